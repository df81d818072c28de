package wire

import (
	"bytes"
	"testing"
)

func FuzzReadRequest(f *testing.F) {
	for i := range requests {
		f.Add(requests[i].Append(nil))
	}
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f})
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := ReadRequest(bytes.NewReader(b), MaxURI)
		if err != nil {
			return
		}
		if len(q.URI) > MaxURI {
			t.Fatalf("uri of %d bytes accepted", len(q.URI))
		}
		enc := q.Append(nil)
		if !bytes.Equal(enc, b[:len(enc)]) {
			// The only bit allowed to differ is the open_token's ignored flag.
			if q.Type != Read || enc[15]|1 != b[15]|1 {
				t.Fatalf("re-encoding differs:\n% x\n% x", enc, b[:len(enc)])
			}
		}
		q2, err := ReadRequest(bytes.NewReader(enc), MaxURI)
		if err != nil || q2 != q {
			t.Fatalf("round trip: %+v %v, want %+v", q2, err, q)
		}
	})
}

func FuzzReadResponse(f *testing.F) {
	f.Add(AppendResponse(nil, tok("x"), false, []byte("hello")))
	f.Add(AppendError(nil, tok("y"), ErrNotFound))
	f.Add(AppendResponseHeader(nil, ResponseHeader{Len: 1 << 62}))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, p, err := ReadResponse(bytes.NewReader(b), 1<<16)
		if err != nil {
			return
		}
		enc := AppendResponse(nil, h.Token, h.IsError, p)
		if !bytes.Equal(enc, b[:len(enc)]) {
			t.Fatalf("re-encoding differs")
		}
	})
}
