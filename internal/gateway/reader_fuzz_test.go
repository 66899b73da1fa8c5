package gateway

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/wsgate/wsgate/internal/testutil"
)

// FuzzFrameReader: any byte stream is read by the connection's frame reader without a
// panic; no message it returns is over the limit; and it agrees with frameGuard's
// scanner, which sees the bytes first: a stream the scanner accepts is read to its end
// without a protocol error.
func FuzzFrameReader(f *testing.F) {
	f.Add(testutil.Text(`{"action":"echo"}`), uint16(0))
	f.Add(append(testutil.Frame(0x01, []byte(`{"act`)), testutil.Frame(0x80, []byte(`ion":"a"}`))...), uint16(64))
	f.Add(append(append(testutil.Frame(0x01, []byte("ab")), testutil.Frame(0x89, []byte("ping"))...), testutil.Frame(0x80, []byte("cd"))...), uint16(3))
	f.Add(testutil.Frame(0x88, []byte{0x03, 0xE8, 'b', 'y', 'e'}), uint16(0))
	f.Add(testutil.FrameWithLength(0x81, 1<<63, nil), uint16(0))
	f.Add(testutil.FrameWithLength(0x82, 70000, nil), uint16(1000))
	f.Add(testutil.Frame(0xC1, []byte("rsv")), uint16(0))
	f.Add(testutil.Frame(0x80, []byte("cont")), uint16(0))
	f.Add([]byte{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'}, uint16(0))
	f.Fuzz(func(t *testing.T, stream []byte, limit uint16) {
		scan := frameScanner{maxMessage: uint64(limit)}
		_, violation := scan.scan(stream)
		fr := frameReader{maxMessage: int32(limit)}
		r := bytes.NewReader(stream)
		hdr := make([]byte, 14)
		var got [][]byte
		var err error
		for {
			opc, p, e := fr.next(r, hdr)
			if err = e; err != nil {
				break
			}
			switch op := byte(opc); op {
			case 0x1, 0x2:
				if limit > 0 && len(p) > int(limit) {
					t.Fatalf("message of %d bytes, limit %d", len(p), limit)
				}
				got = append(got, p)
			case 0x0:
				if p != nil {
					t.Fatalf("a fragment returned %d bytes", len(p))
				}
			case 0x8, 0x9, 0xA:
				if len(p) > 125 {
					t.Fatalf("control frame of %d bytes", len(p))
				}
			default:
				t.Fatalf("opcode %#x returned", op)
			}
		}
		protocol := errors.Is(err, errProtocol) || errors.Is(err, errMessageTooBig)
		if violation == nil && protocol {
			t.Fatalf("the scanner accepts the stream, the reader fails it: %v (%d messages)", err, len(got))
		}
		if !protocol && err != io.EOF && err != io.ErrUnexpectedEOF {
			t.Fatalf("reader error %v", err)
		}
	})
}
