// Package cpuoff runs a package's tests again with CPU features switched
// off through GODEBUG, so that the fallback paths of the hashing code (no
// SHA-NI, no AVX-512, no AVX2) are tested on machines that have them.
//
//	func TestFallbacks(t *testing.T) {
//		cpuoff.Rerun(t, "cpu.avx512f=off", "cpu.avx512f=off,cpu.avx2=off")
//	}
//
// Rerun runs the test binary once per setting, with every test but the
// caller, and fails with the child's output if any test fails. In the
// child, Off reports the setting, so a test can check that the feature is
// really off.
package cpuoff

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

const env = "RTP_CPUOFF"

// Off returns the GODEBUG setting this test binary was rerun with, or "".
func Off() string { return os.Getenv(env) }

// Rerun runs the test binary again for each GODEBUG setting, with every
// test but the caller. It skips in a child, off amd64 and with -short.
func Rerun(t *testing.T, settings ...string) {
	t.Helper()
	switch {
	case Off() != "":
		t.Skip("already rerun with GODEBUG=" + Off())
	case runtime.GOARCH != "amd64":
		t.Skip("the fallbacks switched off here are amd64's")
	case testing.Short():
		t.Skip("-short")
	}
	for _, s := range settings {
		cmd := exec.Command(os.Args[0], "-test.count=1", "-test.v", "-test.skip", "^"+t.Name()+"$")
		// The last GODEBUG wins; the runtime reads it at start.
		cmd.Env = append(os.Environ(), "GODEBUG="+s, env+"="+s)
		out, err := cmd.CombinedOutput()
		switch {
		case err != nil:
			t.Errorf("GODEBUG=%s: %v\n%s", s, err, out)
		case strings.Contains(string(out), "GODEBUG: "):
			// The runtime names a cpu option it does not know.
			t.Errorf("GODEBUG=%s not understood:\n%s", s, out)
		case !strings.Contains(string(out), "--- PASS"):
			t.Errorf("GODEBUG=%s: no test passed:\n%s", s, out)
		default:
			t.Logf("GODEBUG=%s: %d tests passed", s, strings.Count(string(out), "--- PASS"))
		}
	}
}
