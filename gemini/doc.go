// Package gemini makes mutable names for immutable files: a Gemini
// request for a gemini+rtp:// (or gemini://) name is answered with a redirect
// to the rtp: URL of the bytes the name points at now.
//
// The client side resolves a name, trusting each server's certificate on
// first use:
//
//	kh, err := gemini.OpenKnownHosts("") // $XDG_CONFIG_HOME/rtpget/known_hosts
//	if err != nil { ... }
//	r := &gemini.Resolver{KnownHosts: kh}
//	raw, u, err := r.Resolve(ctx, "gemini+rtp://files.example.org/isos/latest.iso")
//	// raw is the rtp: URL as the server wrote it, u its parsed form
//
// The server side is rtpd's Gemini face over a store.PathIndex:
//
//	s := gemini.NewServer(gemini.ServerConfig{Index: disk, Cert: cert, Advertise: dials})
//	ln, err := s.Listen(rtpurl.Dial{Proto: "tcp", Host: "0.0.0.0", Port: gemini.DefaultPort})
//	go s.Serve(ctx, ln)
//	defer s.Shutdown(ctx)
//
// The request and response codec is git.sr.ht/~adnano/go-gemini's.
package gemini
