package main

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rtp-project/rtp/bench/wan"
)

// Namespaces: the client in nsClient, server i (1-based) in nsServer+i,
// joined by a bench/wan link: 10.89.i.1 (server) to 10.89.i.2 (client).
const (
	nsClient = "wb-cli"
	nsServer = "wb-srv"
)

func serverNS(i int) string           { return nsServer + strconv.Itoa(i) }
func serverIP(i int) netip.Addr       { return netip.AddrFrom4([4]byte{10, 89, byte(i), 1}) }
func serverPrefix(i int) netip.Prefix { return netip.PrefixFrom(serverIP(i), 24) }
func clientPrefix(i int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 89, byte(i), 2}), 24)
}

// topo is the namespaces, links and processes of a run; close removes them
// all, whatever state setup reached.
type topo struct {
	made    []string    // namespaces we made
	links   []*wan.Link // links[i-1] joins server i
	park    *exec.Cmd   // a process in the client namespace, for its /proc/PID/net/dev
	servers []*exec.Cmd // each the leader of its own process group
	log     func(format string, args ...any)
}

// up makes the client namespace and n server namespaces with unimpaired
// links. It fails, touching nothing, when one of the names exists.
func (t *topo) up(ctx context.Context, n int) error {
	names := []string{nsClient}
	for i := 1; i <= n; i++ {
		names = append(names, serverNS(i))
	}
	out, err := exec.CommandContext(ctx, "ip", "netns", "list").Output()
	if err != nil {
		return fmt.Errorf("ip netns list: %w", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && slices.Contains(names, f[0]) {
			return fmt.Errorf("namespace %s exists (another wanbench running, or one killed hard); remove it with: ip netns del %s", f[0], f[0])
		}
	}
	for _, ns := range names {
		if err := ipCmd(ctx, "netns", "add", ns); err != nil {
			return err
		}
		t.made = append(t.made, ns)
		if err := ipCmd(ctx, "-n", ns, "link", "set", "lo", "up"); err != nil {
			return err
		}
	}
	for i := 1; i <= n; i++ {
		l, err := wan.Start(wan.Config{NameA: serverNS(i), NameB: nsClient, AddrA: serverPrefix(i), AddrB: clientPrefix(i)})
		if err != nil {
			return fmt.Errorf("link to server %d: %w", i, err)
		}
		t.links = append(t.links, l)
	}
	t.park = exec.Command("ip", "netns", "exec", nsClient, "sleep", "infinity")
	t.park.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := t.park.Start(); err != nil {
		t.park = nil
		return fmt.Errorf("park a process in %s: %w", nsClient, err)
	}
	return nil
}

// set gives server i's link l's delay and rate each way, and loss.
func (t *topo) set(i int, l link, loss float64) {
	d := wan.Dir{Delay: l.RTT / 2, Loss: loss, Rate: l.Rate}
	t.links[i-1].Set(d, d)
}

// congctl makes the TCP connections server i accepts from now on use cc:
// the route to the client carries it (ip route … congctl). A namespace
// other than the host's may only set tcp_congestion_control to an
// algorithm the host allows (tcp_allowed_congestion_control), where a
// route may name any the kernel has. Not locked: a server may still pick
// its own per socket.
func (t *topo) congctl(ctx context.Context, i int, cc string) error {
	ns, dev := serverNS(i), t.links[i-1].DevA
	dst := serverPrefix(i).Masked().String()
	if err := ipCmd(ctx, "-n", ns, "route", "replace", dst, "dev", dev, "proto", "kernel", "scope", "link",
		"src", serverIP(i).String(), "congctl", cc); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, "ip", "-n", ns, "route", "show", dst).Output()
	if err != nil || !strings.Contains(string(out), "congctl "+cc) {
		return fmt.Errorf("route to %s in %s: congctl %s did not take: %q", dst, ns, cc, out)
	}
	return nil
}

// rx returns the bytes the client namespace's devices have received.
func (t *topo) rx() int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/net/dev", t.park.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	var total int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(name) == "lo" {
			continue
		}
		if fs := strings.Fields(rest); len(fs) > 0 {
			n, _ := strconv.ParseInt(fs[0], 10, 64)
			total += n
		}
	}
	return total
}

// linkCounts are the links' drops, both directions, all links.
type linkCounts struct{ loss, queue, device int64 }

// counts sums the links' drop counters: by the loss asked for, by the
// router queue, and by the TUN devices when the forwarder fell behind (not
// meant: the emulator lacked CPU).
func (t *topo) counts() linkCounts {
	var c linkCounts
	for _, l := range t.links {
		s := l.Stats()
		c.loss += s.AtoB.LossDrops + s.BtoA.LossDrops
		c.queue += s.AtoB.QueueDrops + s.BtoA.QueueDrops
		if a, b, err := l.DeviceDrops(); err == nil {
			c.device += a + b
		}
	}
	return c
}

func (c linkCounts) minus(d linkCounts) linkCounts {
	return linkCounts{c.loss - d.loss, c.queue - d.queue, c.device - d.device}
}

// ccSeen lists the congestion control algorithms of the established TCP
// connections in the server namespaces, as ss shows them.
func (t *topo) ccSeen(ctx context.Context) []string {
	var seen []string
	for i := 1; i <= len(t.links); i++ {
		out, _ := exec.CommandContext(ctx, "ip", "netns", "exec", serverNS(i), "ss", "-tinH", "state", "established").Output()
		for _, tok := range strings.Fields(string(out)) {
			if slices.Contains(allCCs, tok) && !slices.Contains(seen, tok) {
				seen = append(seen, tok)
			}
		}
	}
	slices.Sort(seen)
	return seen
}

// start runs argv in namespace ns as the leader of a new process group,
// output to logPath, stopped by close.
func (t *topo) start(ns, logPath string, argv ...string) error {
	lf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer lf.Close()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s in %s: %w", argv[0], ns, err)
	}
	t.servers = append(t.servers, cmd)
	return nil
}

// close stops every process we started (their groups: SIGTERM, then SIGKILL
// after 5 s), kills whatever is left in our namespaces (all ours), closes
// the links and deletes the namespaces. It runs once, on every exit path.
func (t *topo) close() {
	procs := t.servers
	if t.park != nil {
		procs = append(procs, t.park)
	}
	for _, c := range procs {
		syscall.Kill(-c.Process.Pid, syscall.SIGTERM)
	}
	for _, c := range procs {
		done := make(chan struct{})
		go func() { c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
	for _, ns := range t.made {
		out, _ := exec.Command("ip", "netns", "pids", ns).Output()
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	for _, l := range t.links {
		if err := l.Close(); err != nil {
			t.log("closing a link: %v", err)
		}
	}
	for _, ns := range t.made {
		if err := exec.Command("ip", "netns", "del", ns).Run(); err != nil {
			t.log("ip netns del %s: %v", ns, err)
		}
	}
	t.servers, t.park, t.links, t.made = nil, nil, nil, nil
}

// cleanLeftovers removes the namespaces of a wanbench that could not clean
// up (SIGKILL, a crash) and kills the processes still in them: its servers.
// Its TUN devices went with its process.
func cleanLeftovers() error {
	lf, err := lock()
	if err != nil {
		return err
	}
	defer lf.Close()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return fmt.Errorf("ip netns list: %w", err)
	}
	t := &topo{log: func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && (f[0] == nsClient || strings.HasPrefix(f[0], nsServer)) {
			t.made = append(t.made, f[0])
		}
	}
	if len(t.made) == 0 {
		fmt.Fprintln(os.Stderr, "wanbench: nothing to clean")
		return nil
	}
	fmt.Fprintf(os.Stderr, "wanbench: removing %s and the processes in them\n", strings.Join(t.made, " "))
	t.close()
	return nil
}

func ipCmd(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
