package main

import (
	"runtime"
	"strings"
	"testing"
)

func TestSafeName(t *testing.T) {
	long := strings.Repeat("é", 200) + ".iso" // 404 bytes
	cases := []struct{ dn, want string }{
		{"a.iso", "a.iso"},
		{"my file (1).tar.gz", "my file (1).tar.gz"},
		{"dir/sub/a.iso", "a.iso"},
		{`..\..\win.ini`, "win.ini"},
		{"../../etc/passwd", "passwd"},
		{".bashrc", "bashrc"},
		{"...hidden.", "hidden"},
		{" a.iso ", "a.iso"},
		{".", ""},
		{"..", ""},
		{"/", ""},
		{"", ""},
		{"a\nb\x1b[31mc\x00d\x7fe\u0085f.bin", "a_b_[31mc_d_e_f.bin"},
		{"invoice\u202Efdp.exe", "invoice_fdp.exe"},
		{"zero\u200Bwidth\uFEFF", "zero_width_"},
		{"line\u2028sep", "line_sep"},
		{"bad\xff\xfeutf8", "bad_utf8"},
		{"日本語.txt", "日本語.txt"},
		{long, strings.Repeat("é", (maxName-4)/2) + ".iso"},
	}
	for _, c := range cases {
		if got := safeName(c.dn); got != c.want {
			t.Errorf("safeName(%q) = %q, want %q", c.dn, got, c.want)
		}
	}
	if got := safeName(strings.Repeat("x", 1000)); len(got) != maxName {
		t.Errorf("1000 x: %d bytes, want %d", len(got), maxName)
	}
	if runtime.GOOS == "windows" {
		if got := safeName("nul.txt"); got != "_nul.txt" {
			t.Errorf("nul.txt: %q", got)
		}
	}
}

func TestShow(t *testing.T) {
	cases := []struct{ in, want string }{
		{"a.iso", "a.iso"},
		{"dir/my file.iso", "dir/my file.iso"},
		{"日本語", "日本語"},
		{"a\x1b[31m", `"a\x1b[31m"`},
		{"a\nb", `"a\nb"`},
		{"x\u202Ey", `"x\u202ey"`},
		{"\xff", `"\xff"`},
		{`a"b`, `"a\"b"`},
	}
	for _, c := range cases {
		if got := show(c.in); got != c.want {
			t.Errorf("show(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}
