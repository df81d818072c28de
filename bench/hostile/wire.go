package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// Requests are built by hand from wire-v1.md, not with package wire, so
// that a bug shared by the codec and the server can't hide here.

const (
	typeOpen = 0
	typeRead = 1

	openHeaderLen = 16 // token, uri length
	readLen       = 32 // token, open_token, offset, length
	respHeaderLen = 16 // token, payload length
)

// appendToken appends token n (below 2^56) with the request type in bit 0
// of byte 7.
func appendToken(b []byte, n uint64, typ byte) []byte {
	b = binary.LittleEndian.AppendUint64(b, n&(1<<56-1))
	b[len(b)-1] |= typ
	return b
}

// appendOpen appends an OPEN of uri under token tok.
func appendOpen(b []byte, tok uint64, uri string) []byte {
	b = appendToken(b, tok, typeOpen)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(uri)))
	return append(b, uri...)
}

// appendOpenHeader appends an OPEN's token and a declared uri length,
// without the uri.
func appendOpenHeader(b []byte, tok, uriLen uint64) []byte {
	b = appendToken(b, tok, typeOpen)
	return binary.LittleEndian.AppendUint64(b, uriLen)
}

// appendRead appends a READ of length bytes at offset of open under tok.
func appendRead(b []byte, tok, open, offset, length uint64) []byte {
	b = appendToken(b, tok, typeRead)
	b = appendToken(b, open, typeOpen)
	b = binary.LittleEndian.AppendUint64(b, offset)
	return binary.LittleEndian.AppendUint64(b, length)
}

// response is a response whose payload was kept only if small.
type response struct {
	tok   uint64 // flag cleared
	isErr bool
	n     uint64 // payload length
	small []byte // the payload, if n <= the limit readResponse was given
}

// readResponse reads one response. A payload longer than keep is read and
// dropped; one longer than limit is an error before it is read.
func readResponse(r *bufio.Reader, keep, limit uint64) (response, error) {
	var h [respHeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return response{}, err
	}
	resp := response{
		isErr: h[7]&1 != 0,
		n:     binary.LittleEndian.Uint64(h[8:]),
	}
	h[7] &^= 1
	resp.tok = binary.LittleEndian.Uint64(h[:8])
	if resp.n > limit {
		return resp, fmt.Errorf("response to token %d declares %d payload bytes, limit %d", resp.tok, resp.n, limit)
	}
	if resp.n <= keep {
		resp.small = make([]byte, resp.n)
		_, err := io.ReadFull(r, resp.small)
		return resp, noEOF(err)
	}
	_, err := io.CopyN(io.Discard, r, int64(resp.n))
	return resp, noEOF(err)
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
