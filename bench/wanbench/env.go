package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// writeEnv records what the figures depend on: the machine, the kernel's
// TCP settings in the namespaces, the versions of every program, the
// command line.
func writeEnv(ctx context.Context, o *options, path string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "date: %s\ncommand: wanbench %s\n", time.Now().Format(time.RFC3339), strings.Join(o.cmdline, " "))
	fmt.Fprintf(&b, "cpu: %s, %d logical CPUs\n", cpuModel(), runtime.NumCPU())
	run := func(label string, argv ...string) {
		out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
		line := strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
		if err != nil && line == "" {
			line = err.Error()
		}
		fmt.Fprintf(&b, "%s: %s\n", label, line)
	}
	run("kernel", "uname", "-rm")
	run("tree", "git", "describe", "--always", "--dirty")
	run("rtpd", o.rtpdBin, "--version")
	run("rtpget", o.rtpgetBin, "--version")
	run("curl", "curl", "--version")
	run("aria2c", "aria2c", "--version")
	run("nginx", "nginx", "-v")
	for _, key := range []string{"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem", "net.core.rmem_max", "net.core.wmem_max",
		"net.ipv4.tcp_congestion_control"} {
		run("client namespace "+key, "ip", "netns", "exec", nsClient, "sysctl", "-n", key)
		run("server namespace "+key, "ip", "netns", "exec", serverNS(1), "sysctl", "-n", key)
	}
	fmt.Fprintf(&b, "links: bench/wan, one TUN device per namespace, MTU 1500, router queue 100 ms at the link rate (tail drop), "+
		"RTT/2 delay, the loss and the rate on each direction\n")
	fmt.Fprintf(&b, "sender congestion control: ip route … congctl in each server namespace (TCP only; QUIC uses quic-go's own)\n")
	fmt.Fprintf(&b, "extra flags: rtpget %q, rtpd %q, aria2c %q\n", o.rtpget, o.rtpd, o.aria2c)
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
