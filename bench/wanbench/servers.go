package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Ports every server listens on, at serverIP(i).
const (
	portRTP     = 7777 // tcp!
	portTLS     = 7778 // tls! and quic! (TCP and UDP)
	portMetrics = 9090 // rtpd's /metrics and /healthz
	portHTTP    = 8080 // nginx
)

// nginxConf serves root over plain HTTP at addr, with sendfile, as a
// distribution's nginx would be set up for large files.
func nginxConf(prefix, addr, root string) string {
	return fmt.Sprintf(`daemon off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    default_type application/octet-stream;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    server {
        listen %[2]s;
        root %[3]s;
    }
}
`, prefix, addr, root)
}

// startServers runs nginx and rtpd in the namespace of each server 1..n,
// all serving data, and waits until nginx answers and rtpd's /healthz says
// its index pass is done. Each rtpd gets its own copy of the index made
// once here (bbolt locks its file; one hashing pass instead of n).
func startServers(ctx context.Context, t *topo, n int, rtpd, tmp, data string, extra []string, logs string) error {
	base := filepath.Join(tmp, "idx0", "index.db")
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		return err
	}
	t.log("indexing %s", data)
	if out, err := exec.CommandContext(ctx, rtpd, "ls", "--index", base, data).CombinedOutput(); err != nil {
		return fmt.Errorf("rtpd ls: %v: %s", err, lastLines(string(out), 3))
	}
	for i := 1; i <= n; i++ {
		ip := serverIP(i).String()
		idx := filepath.Join(tmp, fmt.Sprintf("idx%d", i), "index.db")
		if err := copyFile(base, idx); err != nil {
			return err
		}
		args := []string{rtpd, "serve", "--index", idx, "--log-format", "text",
			"--listen", fmt.Sprintf("tcp!%s!%d", ip, portRTP),
			"--listen", fmt.Sprintf("tls!%s!%d", ip, portTLS),
			"--listen", fmt.Sprintf("quic!%s!%d", ip, portTLS),
			"--metrics", fmt.Sprintf("tcp!%s!%d", ip, portMetrics)}
		args = append(append(args, extra...), data)
		if err := t.start(serverNS(i), filepath.Join(logs, fmt.Sprintf("rtpd%d.log", i)), args...); err != nil {
			return err
		}
		prefix := filepath.Join(tmp, fmt.Sprintf("nginx%d", i))
		if err := os.MkdirAll(prefix, 0o755); err != nil {
			return err
		}
		conf := filepath.Join(prefix, "nginx.conf")
		if err := os.WriteFile(conf, []byte(nginxConf(prefix, fmt.Sprintf("%s:%d", ip, portHTTP), data)), 0o644); err != nil {
			return err
		}
		if err := t.start(serverNS(i), filepath.Join(logs, fmt.Sprintf("nginx%d.log", i)),
			"nginx", "-p", prefix, "-c", conf, "-e", filepath.Join(prefix, "error.log")); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(5 * time.Minute)
	for i := 1; i <= n; i++ {
		ip := serverIP(i).String()
		// nginx answers / with 403 (no index): any answer is up. /healthz
		// fails (-f) until the index pass is done.
		for _, probe := range [][]string{
			{"-s", fmt.Sprintf("http://%s:%d/", ip, portHTTP)},
			{"-sf", fmt.Sprintf("http://%s:%d/healthz", ip, portMetrics)},
		} {
			for exec.CommandContext(ctx, "ip", "netns", "exec", nsClient, "curl", probe[0], "-o", "/dev/null", "-m", "2", probe[1]).Run() != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("server %d: %s did not answer in 5 minutes (logs in %s)", i, probe[1], logs)
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}
