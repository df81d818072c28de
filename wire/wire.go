package wire

import (
	"encoding/binary"
	"fmt"
	"io"
)

const (
	// MaxURI is the longest uri a server reads (wire-v1.md rule 7).
	MaxURI = 8192
	// Unlimited as a READ length asks for as much as the server will give.
	Unlimited = ^uint64(0)
	// ResponseHeaderLen is the size of a response's token and payload length.
	ResponseHeaderLen = 16
	// ReadRequestLen is the size of a whole READ request.
	ReadRequestLen = 32
)

// Token is an opaque client-chosen identifier. The flag bit (bit 0 of byte 7)
// is not part of it: a Token read from the wire always has that bit cleared.
type Token [8]byte

const flagBit = 1

// Masked returns t with the flag bit cleared.
func (t Token) Masked() Token {
	t[7] &^= flagBit
	return t
}

// TokenFromUint64 makes a token from n, little-endian, shifted left one bit
// so that n's every bit survives the flag. Handy for counters in clients.
func TokenFromUint64(n uint64) Token {
	var t Token
	binary.LittleEndian.PutUint64(t[:], n<<1)
	return t.Masked()
}

func (t Token) String() string { return fmt.Sprintf("%x", t[:]) }

// Type is a request type, carried in the request token's flag bit.
type Type uint8

const (
	Open Type = 0
	Read Type = 1
)

func (t Type) String() string {
	if t == Open {
		return "OPEN"
	}
	return "READ"
}

// Request is an OPEN or a READ.
type Request struct {
	Token Token
	Type  Type
	URI   string // OPEN only

	OpenToken Token  // READ only: the token of the OPEN it reads
	Offset    uint64 // READ only
	Length    uint64 // READ only: a maximum; Unlimited for "as much as you will give"
}

// NewOpen returns an OPEN of uri under token tok.
func NewOpen(tok Token, uri string) Request {
	return Request{Token: tok.Masked(), Type: Open, URI: uri}
}

// NewRead returns a READ of length bytes at offset of the open token.
func NewRead(tok, open Token, offset, length uint64) Request {
	return Request{Token: tok.Masked(), Type: Read, OpenToken: open.Masked(), Offset: offset, Length: length}
}

// Append appends the encoded request to b.
func (q *Request) Append(b []byte) []byte {
	tok := q.Token.Masked()
	if q.Type == Read {
		tok[7] |= flagBit
		b = append(b, tok[:]...)
		open := q.OpenToken.Masked()
		b = append(b, open[:]...)
		b = binary.LittleEndian.AppendUint64(b, q.Offset)
		return binary.LittleEndian.AppendUint64(b, q.Length)
	}
	b = append(b, tok[:]...)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(q.URI)))
	return append(b, q.URI...)
}

// ReadRequest reads one request from r. A uri longer than maxURI fails with
// ErrURITooLong before any of it is read or allocated. A clean end of input
// before the first byte returns io.EOF; a request cut short returns
// io.ErrUnexpectedEOF.
func ReadRequest(r io.Reader, maxURI int) (Request, error) {
	var b [ReadRequestLen]byte
	if _, err := io.ReadFull(r, b[:8]); err != nil {
		return Request{}, err
	}
	var q Request
	copy(q.Token[:], b[:8])
	q.Type = Type(q.Token[7] & flagBit)
	q.Token = q.Token.Masked()
	if q.Type == Read {
		if _, err := io.ReadFull(r, b[8:32]); err != nil {
			return Request{}, noEOF(err)
		}
		copy(q.OpenToken[:], b[8:16])
		q.OpenToken = q.OpenToken.Masked()
		q.Offset = binary.LittleEndian.Uint64(b[16:])
		q.Length = binary.LittleEndian.Uint64(b[24:])
		return q, nil
	}
	if _, err := io.ReadFull(r, b[8:16]); err != nil {
		return Request{}, noEOF(err)
	}
	n := binary.LittleEndian.Uint64(b[8:16])
	if n > uint64(maxURI) {
		return Request{}, fmt.Errorf("%w: %d bytes declared, limit %d", ErrURITooLong, n, maxURI)
	}
	uri := make([]byte, n)
	if _, err := io.ReadFull(r, uri); err != nil {
		return Request{}, noEOF(err)
	}
	q.URI = string(uri)
	return q, nil
}

// ResponseHeader is the fixed part of a response: the request's token, the
// error flag and the payload's length.
type ResponseHeader struct {
	Token   Token
	IsError bool
	Len     uint64
}

// AppendResponseHeader appends the 16-byte response header to b. The payload
// follows it on the wire.
func AppendResponseHeader(b []byte, h ResponseHeader) []byte {
	tok := h.Token.Masked()
	if h.IsError {
		tok[7] |= flagBit
	}
	b = append(b, tok[:]...)
	return binary.LittleEndian.AppendUint64(b, h.Len)
}

// AppendResponse appends a whole response to b.
func AppendResponse(b []byte, tok Token, isError bool, payload []byte) []byte {
	b = AppendResponseHeader(b, ResponseHeader{Token: tok, IsError: isError, Len: uint64(len(payload))})
	return append(b, payload...)
}

// AppendError appends an ERROR response carrying e.
func AppendError(b []byte, tok Token, e error) []byte {
	return AppendResponse(b, tok, true, []byte(e.Error()))
}

// ReadResponseHeader reads a response header from r, leaving the payload
// unread.
func ReadResponseHeader(r io.Reader) (ResponseHeader, error) {
	var b [ResponseHeaderLen]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return ResponseHeader{}, err
	}
	var h ResponseHeader
	copy(h.Token[:], b[:8])
	h.IsError = h.Token[7]&flagBit != 0
	h.Token = h.Token.Masked()
	h.Len = binary.LittleEndian.Uint64(b[8:])
	return h, nil
}

// ReadResponse reads a whole response whose payload may be at most max bytes.
// A longer declared payload fails with ErrPayloadTooLong before allocation.
func ReadResponse(r io.Reader, max uint64) (ResponseHeader, []byte, error) {
	h, err := ReadResponseHeader(r)
	if err != nil {
		return h, nil, err
	}
	if h.Len > max {
		return h, nil, fmt.Errorf("%w: %d bytes declared, limit %d", ErrPayloadTooLong, h.Len, max)
	}
	p := make([]byte, h.Len)
	if _, err := io.ReadFull(r, p); err != nil {
		return h, nil, noEOF(err)
	}
	return h, p, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
