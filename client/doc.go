// Package client speaks RTP/1 to one server over one session: TCP, TLS or
// one QUIC stream. Requests are pipelined; responses are matched by token
// in whatever order they come.
//
//	s, err := client.Dial(ctx, rtpurl.Dial{Proto: "tcp", Host: "localhost", Port: 7777}, nil)
//	if err != nil { ... }
//	defer s.Close()
//	tok, err := s.Open(ctx, "urn:sha256:…")
//	calls := []*client.Call{
//		s.StartRead(tok, 0, 1<<20, w0),   // payloads are copied to the writers
//		s.StartRead(tok, 1<<20, 1<<20, w1),
//	}
//	for _, c := range calls { err := c.Wait(ctx) ... }
//
// A client told no length (an rtp: URL without l=) finds it with
// s.ProbeLength(ctx, tok, wait), READs of one byte around the end.
//
// The session never reads more payload than a READ asked for: a server that
// sends more, or answers a token it was never sent, ends the session with
// ErrProtocol.
package client
