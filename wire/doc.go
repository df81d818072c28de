// Package wire encodes and decodes RTP/1 requests and responses as
// ../shared/wire-v1.md defines them. It has no network code: server/ and
// client/ both use it on any io.Reader or io.Writer.
//
// Decoding checks every declared length against a limit before it allocates:
//
//	req, err := wire.ReadRequest(br, wire.MaxURI)
//	if errors.Is(err, wire.ErrURITooLong) { /* close the session */ }
//
// Encoding appends to a byte slice:
//
//	b = wire.NewOpen(tok, "urn:sha256:...").Append(b)
//	b = wire.AppendResponse(b, tok, false, payload)
package wire
