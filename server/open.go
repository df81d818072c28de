package server

import (
	"cmp"
	"errors"
	"slices"

	"github.com/rtp-project/rtp/outboard"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/urn"
	"github.com/rtp-project/rtp/wire"
)

// OPENs. The reader goroutine decides at once what needs no store (token in
// use, too many tokens, a bad uri, a resource the session has open), and
// queues the rest. At most MaxOpening worker goroutines per session take
// them from the queue and call the store. An OPEN under way holds its
// token, so the queue holds at most MaxOpenTokens. A READ behind an OPEN
// under way waits for its outcome on its own goroutine (see read).
//
// Every OPEN is answered as if the session's requests were handled one
// after the other, whatever the store's delays: an OPEN whose answer
// depends on one under way (it reuses that token, or the open tokens are
// at the limit only if the OPENs under way succeed) waits for it, and the
// reader with it.

// resource is one thing a session opens, a blob or a tree: the store call
// that opens it, shared by every token of the session that names it while
// the call is under way, then the blob they read. Its fields other than
// done are set, under omu, before done is closed; once it is, blob and err
// may be read without the lock.
type resource struct {
	key  blobKey
	done chan struct{}
	blob store.Blob  // the blob, if the OPEN succeeded
	err  *wire.Error // the answer, if it failed

	toks    []tokSeq // tokens to answer when done, under omu
	waiters int      // READs waiting for done, under omu
}

func (r *resource) isDone() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// tokSeq is an OPEN's token and its place among the session's OPENs.
type tokSeq struct {
	tok wire.Token
	seq uint64
}

// failure is a failed OPEN's answer, kept for the READs that name it.
type failure struct {
	e   *wire.Error
	seq uint64
}

// blobKey names a resource: a blob by hash, or a blake3 hash's tree.
type blobKey struct {
	h    urn.Hash
	tree bool
}

func (ss *session) open(req wire.Request) {
	k, perr := ss.parseURI(req.URI)
	ss.omu.Lock()
	defer ss.omu.Unlock()
	ss.seq++
	ts := tokSeq{req.Token, ss.seq}
	for !ss.decidableLocked(req.Token) {
		if !ss.awaitSettledLocked() {
			ss.failLocked(ts, errCanceled)
			return
		}
	}
	if _, ok := ss.tokens[req.Token]; ok {
		// Open or being opened: either way, the earlier OPEN stands.
		ss.srv.met.Opened(OpenTokenInUse)
		ss.respondErr(req.Token, wire.ErrTokenInUse)
		return
	}
	delete(ss.failed, req.Token)
	if len(ss.tokens) >= ss.srv.cfg.MaxOpenTokens {
		ss.failLocked(ts, wire.ErrTooManyOpenTokens)
		return
	}
	switch {
	case errors.Is(perr, urn.ErrUnsupported):
		ss.failLocked(ts, wire.ErrUnsupportedScheme)
		return
	case perr != nil:
		ss.failLocked(ts, wire.ErrMalformedURN)
		return
	}
	r := ss.res[k]
	if r == nil {
		r = &resource{key: k, done: make(chan struct{})}
		ss.res[k] = r
		ss.queue = append(ss.queue, r)
		if ss.workers < ss.srv.cfg.MaxOpening {
			ss.workers++
			ss.work.Add(1)
			go ss.openWorker()
		}
	}
	ss.tokens[req.Token] = r
	if r.isDone() {
		// Failed resources leave res: this one is open.
		ss.srv.met.Opened(OpenOK)
		ss.respond(req.Token, false, nil)
		return
	}
	r.toks = append(r.toks, ts)
	ss.pendingToks++
}

// decidableLocked reports whether an OPEN of tok can be answered now as it
// would be once every OPEN before it is: its token is not under way, and
// the open tokens are under the limit or none is under way.
func (ss *session) decidableLocked(tok wire.Token) bool {
	if r, ok := ss.tokens[tok]; ok && !r.isDone() {
		return false
	}
	return len(ss.tokens) < ss.srv.cfg.MaxOpenTokens || ss.pendingToks == 0
}

// awaitSettledLocked waits, with omu released, until some OPEN under way is
// answered. It reports false if the session's context ended first.
func (ss *session) awaitSettledLocked() bool {
	if ss.settled == nil {
		ss.settled = make(chan struct{})
	}
	ch := ss.settled
	ss.omu.Unlock()
	if ss.srv.openWait != nil {
		ss.srv.openWait()
	}
	ss.idle()
	select {
	case <-ch:
	case <-ss.ctx.Done():
	}
	ss.omu.Lock()
	return ss.ctx.Err() == nil
}

// openWorker opens the queued resources until the queue is empty.
func (ss *session) openWorker() {
	defer ss.work.Done()
	for {
		ss.omu.Lock()
		if len(ss.queue) == 0 {
			ss.workers--
			ss.omu.Unlock()
			return
		}
		r := ss.queue[0]
		ss.queue[0] = nil
		ss.queue = ss.queue[1:]
		ss.omu.Unlock()
		b, err := ss.openBlob(r.key)
		ss.finish(r, b, err)
	}
}

// opening reports whether some OPEN is waiting for the store.
func (ss *session) opening() bool {
	ss.omu.Lock()
	defer ss.omu.Unlock()
	return ss.workers > 0
}

// finish answers the tokens waiting for r and wakes the READs behind them.
// A failed resource leaves res, so that a later OPEN of it asks the store
// again, and its tokens become failed tokens.
func (ss *session) finish(r *resource, b store.Blob, err error) {
	var e *wire.Error
	if err != nil {
		e = ss.openError(r.key, err)
	}
	ss.omu.Lock()
	if e == nil {
		r.blob = b
		for _, t := range r.toks {
			ss.srv.met.Opened(OpenOK)
			ss.respond(t.tok, false, nil)
		}
	} else {
		r.err = e
		delete(ss.res, r.key)
		for _, t := range r.toks {
			delete(ss.tokens, t.tok)
			ss.failLocked(t, e)
		}
	}
	ss.pendingToks -= len(r.toks)
	r.toks = nil
	close(r.done)
	if ss.settled != nil {
		close(ss.settled)
		ss.settled = nil
	}
	// READs waiting for r write the answers with theirs, and a busy reader
	// writes them after the requests it has buffered.
	flush := r.waiters == 0 && !ss.busy.Load()
	ss.omu.Unlock()
	if flush {
		ss.flushSmall()
	}
}

// openError is the answer to an OPEN that the store failed, by kind: a
// hash it does not hold (or no longer holds as hashed) is not found; a
// store that cannot answer now (store.Retryable) is unavailable, which
// clients take as worth retrying; anything else cannot be opened.
func (ss *session) openError(k blobKey, err error) *wire.Error {
	switch {
	case store.Permanent(err):
		return wire.ErrNotFound
	case ss.ctx.Err() != nil:
		return errCanceled
	case store.Retryable(err):
		ss.srv.log.Warn("open failed; store unavailable", "uri", k.uri(), "err", err)
		return ErrUnavailable
	default:
		ss.srv.log.Warn("open failed", "uri", k.uri(), "err", err)
		return errCannotOpen
	}
}

func (k blobKey) uri() string {
	if k.tree {
		return outboard.URI(k.h)
	}
	return k.h.String()
}

// parseURI accepts the urns of package urn and, when the store keeps
// trees, the tree URIs of package outboard (an extension; other servers
// answer unsupported scheme).
func (ss *session) parseURI(uri string) (blobKey, error) {
	h, err := urn.Parse(uri)
	if !errors.Is(err, urn.ErrUnsupported) {
		return blobKey{h: h}, err
	}
	if _, ok := ss.srv.cfg.Store.(store.TreeOpener); ok {
		if h, terr := outboard.ParseURI(uri); !errors.Is(terr, urn.ErrUnsupported) {
			return blobKey{h: h, tree: true}, terr
		}
	}
	return blobKey{}, err
}

// openBlob asks the store for k with the session's context, so that a
// peer that hangs up cancels the call.
func (ss *session) openBlob(k blobKey) (store.Blob, error) {
	if k.tree {
		return ss.srv.cfg.Store.(store.TreeOpener).OpenTree(ss.ctx, k.h)
	}
	return ss.srv.cfg.Store.Open(ss.ctx, k.h)
}

// failLocked answers an OPEN with e and remembers it for READs pipelined
// behind it. The memory is bounded like the open tokens; past it, the
// failure of the oldest OPEN is forgotten, and its READs get "unknown open
// token". Oldest by the order the OPENs came in, not the order they
// failed in, so the failures remembered do not depend on the store's
// delays.
func (ss *session) failLocked(ts tokSeq, e *wire.Error) {
	i, _ := slices.BinarySearchFunc(ss.order, ts.seq, func(o tokSeq, seq uint64) int { return cmp.Compare(o.seq, seq) })
	ss.order = slices.Insert(ss.order, i, ts)
	ss.failed[ts.tok] = failure{e, ts.seq}
	live := func(o tokSeq) bool { f, ok := ss.failed[o.tok]; return ok && f.seq == o.seq }
	for len(ss.failed) > ss.srv.cfg.MaxOpenTokens {
		if o := ss.order[0]; live(o) {
			delete(ss.failed, o.tok)
		}
		ss.order = ss.order[1:]
	}
	if len(ss.order) > 2*ss.srv.cfg.MaxOpenTokens {
		// Drop tokens OPENed again since they failed.
		ss.order = slices.DeleteFunc(ss.order, func(o tokSeq) bool { return !live(o) })
	}
	ss.srv.met.Opened(openResult(e))
	ss.respondErr(ts.tok, e)
}
