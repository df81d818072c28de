package swarm

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/outboard"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/urn"
)

// Config configures a download. Zero values mean the defaults given.
type Config struct {
	URL    *rtpurl.URL
	Client *client.Options
	// Dial starts a session; zero means client.Dial with Client.
	Dial func(context.Context, rtpurl.Dial) (*client.Session, error)
	// BlockSize is the unit of scheduling and of READs. Zero means 1 MiB.
	BlockSize int64
	// Window is the fewest READs each session keeps in flight; a session
	// grows its window past it when its bandwidth-delay product asks for
	// more (see flow), within MaxInFlight. Zero means 8 when a server has
	// one session and 4 when it has several: on loopback 12 MiB in flight
	// against one server took less CPU and time than 16 or 24.
	Window int
	// MaxInFlight caps the bytes of READs in flight in the whole download,
	// beyond each session's Window: it bounds what the sockets, QUIC's
	// buffers and endgame copies may hold. Zero means 64 MiB.
	MaxInFlight int64
	// Sessions is the fewest sessions per server. Zero means, when the URL
	// names one host (over one transport or several), one more than the
	// cores (2 to 4), so that while one session waits on its socket or on
	// the file another keeps each core receiving and checking, and a
	// transport that path probing finds slow (QUIC under loss) leaves the
	// other as many sessions as a URL naming it alone; with several hosts, 1. On a path whose
	// round trip is 5 ms or more, sessions are added one at a time while
	// each makes the server faster, up to MaxSessions.
	Sessions int
	// MaxSessions caps the sessions per server; the download has at most
	// 16 in all, or Sessions times the servers if that is more. Zero means
	// 8, or Sessions if that is more; equal to Sessions, none are added.
	MaxSessions int
	// Stall is how long a session may receive nothing while READs are in
	// flight before it is closed and its blocks fetched elsewhere. It also
	// bounds every other wait on a server: the dial with its TLS or QUIC
	// handshake, the OPEN, each round trip of the length probe, the tree
	// fetch and each repair session. Zero means 10 s.
	Stall time.Duration
	// Hedge: a block among the first few missing ones that a peer has held
	// this long is also fetched from another peer, so one slow or stalled
	// peer does not hold up the in-order hash until the stall timeout. Zero
	// means 2 s; negative turns hedging off.
	Hedge time.Duration
	// RetryFor is how long a server may keep failing before it is dropped:
	// until then each of its sessions that fails, whether the server
	// refused, reset or stalled, is started again after a backoff, so a
	// server restarted within RetryFor goes on serving the download. The
	// clock starts at its first failure and is reset by any READ of it that
	// brings bytes. Zero means 60 s.
	RetryFor time.Duration
	// Retries, when positive, also drops a server after that many failed
	// sessions in a row with no progress between them, whatever RetryFor
	// says. Zero means no limit by count.
	Retries int
	// Backoff is a session's first retry delay, doubled at each failure of
	// that session in a row up to 10 s. Zero means 500 ms.
	Backoff time.Duration
	// SaveEvery is how often the resume state is saved. Zero means 2 s.
	SaveEvery time.Duration
	// NoTree turns verified streaming off: the whole file is verified at
	// the end even when the URL names a blake3 urn whose tree a server
	// offers. Zero means the tree is used when there is one.
	NoTree bool
	// Tree, when not nil, is the BLAKE3 tree of the URL's first blake3 urn,
	// already checked against it (outboard.NewTree) by the caller, for the
	// URL's length: the download uses it instead of fetching one, so every
	// byte that reaches the output has been checked against it. A tree for
	// another length fails Run. Zero means the tree is fetched from the
	// servers, as NoTree says.
	Tree *outboard.Tree
	// Verify says which of the URL's urns must match. Zero (VerifyAll)
	// means every one, as the wire contract asks; VerifyOne the blake3 urn
	// when there is one, else the first.
	Verify Verify
	// PatientEndgame: once every block is assigned, an idle session copies
	// a block in flight elsewhere only when the session fetching it has
	// received nothing for the Hedge time, so copies rescue a stalled or
	// queued-behind session but never race one that is receiving. For a
	// caller that pays for its servers' egress more than for the tail's
	// speed: an edge filling from its origin. Zero means idle sessions copy
	// at once, as they do when Hedge is negative.
	PatientEndgame bool
	// Log zero means slog.Default().
	Log *slog.Logger
}

func (c *Config) setDefaults() {
	if c.BlockSize <= 0 {
		c.BlockSize = 1 << 20
	}
	if c.Sessions <= 0 {
		c.Sessions = 1
		if c.URL != nil && oneHost(c.URL.Servers) {
			c.Sessions = min(max(runtime.NumCPU()+1, 2), 4)
		}
	}
	if c.Window <= 0 {
		c.Window = 8
		if c.Sessions > 1 {
			c.Window = 4
		}
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = 8
	}
	c.MaxSessions = max(c.MaxSessions, c.Sessions)
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 64 << 20
	}
	if c.Stall <= 0 {
		c.Stall = 10 * time.Second
	}
	if c.RetryFor <= 0 {
		c.RetryFor = 60 * time.Second
	}
	if c.Backoff <= 0 {
		c.Backoff = 500 * time.Millisecond
	}
	if c.Hedge == 0 {
		c.Hedge = 2 * time.Second
	}
	if c.SaveEvery <= 0 {
		c.SaveEvery = 2 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
}

// oneHost reports whether every dial string names the same host.
func oneHost(ds []rtpurl.Dial) bool {
	for _, d := range ds {
		if d.Host != ds[0].Host {
			return false
		}
	}
	return len(ds) > 0
}

// Output is where the bytes go: usually the .part file.
type Output interface {
	io.WriterAt
	io.ReaderAt
	Sync() error
}

// Download is one swarm download. Create it with New, run it once.
type Download struct {
	cfg    Config
	log    *slog.Logger
	dialFn func(context.Context, rtpurl.Dial) (*client.Session, error)
	peers  []*peer

	out      Output
	plan     *plan
	finished chan struct{} // closed when Run returns
	ready    chan struct{} // closed once the plan and the tree are set: sessions may fetch
	early    chan struct{} // closed once the plan is set, if sessions may fetch before the tree (early.go)

	earlyMu    sync.Mutex
	earlyOver  bool        // the tree is set or known to be nil
	held       []heldBlock // fetched before that, not checked yet
	earlyBytes atomic.Int64

	errMu sync.Mutex
	err   error // a local failure (disk full) that ends the run

	wakeCh chan struct{}
	start  time.Time

	sessions sync.WaitGroup // every peer's sessions
	inflight atomic.Int64   // READs in flight, all sessions
	capReads int            // MaxInFlight in READs
	maxTotal int            // sessions in all
	kept     int64
	length   int64

	repairMu       sync.Mutex
	repairSessions map[int]*repairSession // used by repair only
	repaired       int

	tree     *outboard.Tree // nil: the whole file is verified at the end
	treeRoot urn.Hash       // the blake3 urn the tree is for
	treeFrom string         // the server it came from
}

// New prepares a download of cfg.URL.
func New(cfg Config) *Download {
	cfg.setDefaults()
	d := &Download{cfg: cfg, log: cfg.Log, finished: make(chan struct{}), ready: make(chan struct{}), early: make(chan struct{}), wakeCh: make(chan struct{}, 1), length: -1}
	d.capReads = int(max(cfg.MaxInFlight/cfg.BlockSize, 1))
	d.maxTotal = max(16, cfg.Sessions*len(cfg.URL.Servers))
	d.dialFn = cfg.Dial
	if d.dialFn == nil {
		// The dial gets the stall timeout unless the options name their own.
		opts := client.Options{DialTimeout: cfg.Stall}
		if cfg.Client != nil {
			opts = *cfg.Client
			if opts.DialTimeout <= 0 {
				opts.DialTimeout = cfg.Stall
			}
		}
		d.dialFn = func(ctx context.Context, dl rtpurl.Dial) (*client.Session, error) {
			return client.Dial(ctx, dl, &opts)
		}
	}
	for i, s := range cfg.URL.Servers {
		d.peers = append(d.peers, &peer{idx: i, dial: s, d: d, state: StateConnecting, slowPath: PathSteady, banned: make(chan struct{})})
	}
	return d
}

// Run downloads into out. statePath, if not empty, names the resume state:
// blocks it lists as done are kept (checked, not re-fetched), and it is
// saved every SaveEvery and when Run returns. stream, if not nil, receives
// the bytes in order. With a BLAKE3 tree every byte is checked before it
// reaches out or stream; without one, or for the URL's other hashes, the
// bytes are verified only when Run returns nil. Run returns nil only when
// every hash that cfg.Verify names matched.
func (d *Download) Run(ctx context.Context, out Output, statePath string, stream io.Writer) (*Result, error) {
	defer close(d.finished)
	d.out = out
	d.start = time.Now()
	for _, p := range d.peers {
		p.progressed.Store(d.start.UnixNano())
	}
	// The sessions end with the fetching; repair runs under the caller's ctx.
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	length := d.cfg.URL.Length
	var st *State
	if statePath != "" {
		st = loadState(statePath, d.cfg.URL)
		if st != nil && length < 0 {
			length = st.Length
		}
	}
	if length < 0 {
		n, err := d.probe(ctx)
		if err != nil {
			return d.result(), err
		}
		length = n
		d.log.Info("length probed", "bytes", length)
	}
	d.length = length
	d.plan = newPlan(length, d.cfg.BlockSize, d.cfg.Hedge)
	d.plan.patient = d.cfg.PatientEndgame
	if t := d.cfg.Tree; t != nil {
		if _, ok := d.urnBLAKE3(); !ok || t.Len() != length || d.cfg.BlockSize%outboard.GroupSize != 0 {
			return d.result(), fmt.Errorf("swarm: the tree given is for %d bytes, not a blake3 urn of %d bytes in blocks of whole groups", t.Len(), length)
		}
	}
	resumed := st != nil && st.Length == length && st.BlockSize == d.cfg.BlockSize
	if !resumed && d.cfg.Tree == nil {
		close(d.early)
	}
	// Sessions start now, so they dial and OPEN while the tree is fetched;
	// a fresh download's fetch into memory meanwhile, a resumed one's (or
	// one given its tree) wait for ready.
	for _, p := range d.peers {
		p.mu.Lock()
		for range d.cfg.Sessions {
			p.startLocked(ctx)
		}
		p.mu.Unlock()
	}
	peersDone := make(chan struct{})
	go func() { d.sessions.Wait(); close(peersDone) }()
	if h, ok := d.urnBLAKE3(); ok && d.cfg.Tree != nil {
		d.tree, d.treeRoot, d.treeFrom = d.cfg.Tree, h, "given"
	} else if ok && !d.cfg.NoTree && d.cfg.BlockSize%outboard.GroupSize == 0 {
		if d.tree = d.fetchTree(ctx, h, length); d.tree != nil {
			d.treeRoot = h
		}
		if err := ctx.Err(); err != nil {
			cancel()
			<-peersDone
			return d.result(), err
		}
	}
	d.endEarly()
	if resumed {
		d.keep(st)
	}
	if stream == nil {
		// out is a file the caller syncs and renames.
		defer d.flushBehind()()
	}
	verified := ""
	if d.tree != nil {
		verified = d.treeRoot.String()
	}
	save := func() {
		if statePath == "" {
			return
		}
		if err := out.Sync(); err != nil {
			d.log.Warn("sync failed", "err", err)
			return
		}
		if err := saveState(statePath, d.cfg.URL, length, d.cfg.BlockSize, d.plan.doneBlocks(), verified); err != nil {
			d.log.Warn("saving resume state failed", "err", err)
		}
	}

	// The in-order pass reads the file back to hash what the tree has not
	// verified, and to stream; with a tree, a blake3-only URL and no
	// stream there is nothing for it to do.
	sums := make(chan hashResult, 1)
	kinds := d.kinds()
	if d.tree != nil {
		kinds = slices.DeleteFunc(kinds, func(k urn.Kind) bool { return k == urn.BLAKE3 })
	}
	var pieces func() (urn.Piece, error)
	if slices.Equal(kinds, []urn.Kind{urn.SHA256}) && stream == nil {
		// Only sha256: a fault in a mapping (the file truncated under
		// it) is an error for it, and could crash blake3 (urn.HashPieces).
		pieces, _ = d.mappedPieces()
	}
	switch {
	case pieces != nil:
		go func() {
			s, err := urn.HashPieces(pieces, kinds...)
			sums <- hashResult{s, err}
		}()
	case len(kinds) > 0:
		go func() {
			s, err := urn.HashReader(&prefixReader{d: d, stream: stream}, nil, kinds...)
			sums <- hashResult{s, err}
		}()
	case stream != nil:
		go func() {
			_, err := io.Copy(io.Discard, &prefixReader{d: d, stream: stream})
			sums <- hashResult{err: err}
		}()
	default:
		sums <- hashResult{}
	}
	close(d.ready)

	err := d.wait(ctx, peersDone, save)
	cancel()
	<-peersDone
	if err != nil {
		d.plan.abort()
		<-sums
		save()
		return d.result(), err
	}
	// Every block is in; from here the caller either renames the file or
	// deletes it, so the resume state is saved only if something fails.
	h := <-sums
	if h.err != nil {
		save()
		return d.result(), h.err
	}
	if err := d.verify(h.sums); err != nil {
		save()
		if d.tree != nil {
			// Every byte matched the blake3 urn: the URL's urns name
			// different bytes, and no server is to blame.
			return d.result(), fmt.Errorf("%w; the bytes match %s", err, d.treeRoot)
		}
		if stream != nil {
			// The bytes are already out; they can't be taken back.
			return d.result(), err
		}
		if rerr := d.repair(parent, h.sums); rerr != nil {
			return d.result(), rerr
		}
	}
	for _, p := range d.peers {
		p.mu.Lock()
		if !p.gone && p.state != StateRetrying {
			p.state = StateDone
		}
		p.mu.Unlock()
	}
	res := d.result()
	res.Verified = d.verified()
	return res, nil
}

type hashResult struct {
	sums urn.Sums
	err  error
}

// wait returns when every block is done, when no peer is left, or on a
// local failure.
func (d *Download) wait(ctx context.Context, peersDone <-chan struct{}, save func()) error {
	tick := time.NewTicker(d.cfg.SaveEvery)
	defer tick.Stop()
	steer := time.NewTicker(steerEvery)
	defer steer.Stop()
	for {
		if d.plan.complete() {
			return nil
		}
		if err := d.localErr(); err != nil {
			return err
		}
		select {
		case <-d.plan.changes():
		case <-d.wakeCh:
		case <-tick.C:
			save()
		case now := <-steer.C:
			d.steer(ctx, now)
		case <-peersDone:
			if d.plan.complete() {
				return nil
			}
			if err := d.localErr(); err != nil {
				return err
			}
			return fmt.Errorf("%w (%d of %d bytes): %s", ErrNoServers, d.plan.progress(), d.length, d.whyGone())
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// keep marks the blocks the resume state lists as done. With a tree, those
// the earlier run verified against the same tree are trusted; others are
// read back and checked now, and fetched again if they fail. Without one,
// the in-order pass hashes them with the rest.
func (d *Download) keep(st *State) {
	trust := d.tree == nil || st.Verified == d.treeRoot.String()
	var buf []byte
	bad := 0
	for i, ok := range st.blocks(len(d.plan.blocks)) {
		if !ok {
			continue
		}
		if !trust {
			if buf == nil {
				buf = make([]byte, d.cfg.BlockSize)
			}
			if !d.checkKept(i, buf) {
				bad++
				continue
			}
		}
		d.plan.markKept(i)
	}
	d.kept = d.plan.progress()
	if bad > 0 {
		d.log.Warn("kept blocks do not match the BLAKE3 tree; fetching them again", "blocks", bad)
	}
}

// fail records a local error (the output can't be written) that ends the run.
func (d *Download) fail(err error) {
	d.errMu.Lock()
	if d.err == nil {
		d.err = err
	}
	d.errMu.Unlock()
	d.wake()
}

func (d *Download) localErr() error {
	d.errMu.Lock()
	defer d.errMu.Unlock()
	return d.err
}

func (d *Download) wake() {
	select {
	case d.wakeCh <- struct{}{}:
	default:
	}
}

func (d *Download) whyGone() string {
	var why []string
	for _, p := range d.peers {
		p.mu.Lock()
		why = append(why, fmt.Sprintf("%s: %s", p.dial, p.why))
		p.mu.Unlock()
	}
	return strings.Join(why, "; ")
}

// prefixReader yields the file's bytes in order, waiting for each block to be
// done, and copies them to stream.
type prefixReader struct {
	d      *Download
	pos    int64
	stream io.Writer
	err    error // the stream's write error, returned from then on
}

func (r *prefixReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	pl := r.d.plan
	if r.pos >= pl.size {
		return 0, io.EOF
	}
	i := int(r.pos / pl.bsize)
	if err := pl.waitDone(i); err != nil {
		return 0, err
	}
	off, n := pl.span(i)
	end := off + n
	m, err := r.d.out.ReadAt(p[:min(int64(len(p)), end-r.pos)], r.pos)

	if m > 0 && r.stream != nil {
		if _, werr := r.stream.Write(p[:m]); werr != nil {
			// No bytes: a reader that fills its buffer (io.ReadFull)
			// drops an error that comes with the last of them, and
			// would read the same bytes again, for ever.
			r.err = werr
			return 0, werr
		}
	}
	r.pos += int64(m)
	if err == io.EOF && m > 0 {
		err = nil
	}
	return m, err
}
