// Package server serves RTP/1 sessions from a store.Opener over TCP, TLS and
// QUIC, as ../shared/wire-v1.md defines them.
//
//	srv := server.New(server.Config{Store: disk})
//	ln, _ := net.Listen("tcp", ":7777")
//	go srv.Serve(ctx, ln)            // TCP, or a tls.NewListener
//	go srv.ServeQUIC(ctx, quicLn)    // each QUIC stream is a session
//	...
//	srv.Shutdown(ctx)                // stop accepting, finish in-flight READs
//
// A session's READs are served concurrently, at most Config.MaxInflight at
// once; each response is written whole, in chunks, while holding the
// session's write lock, so a READ holds at most one chunk of memory.
package server
