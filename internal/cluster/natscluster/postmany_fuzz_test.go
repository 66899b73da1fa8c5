package natscluster

import (
	"slices"
	"testing"
)

// FuzzDecodePostMany feeds the batch-post wire decoder any bytes (what another node, or
// anything publishing on the subject, may send): it must not panic, must bound what it
// accepts, and must give back exactly what encodePostMany wrote.
func FuzzDecodePostMany(f *testing.F) {
	f.Add(encodePostMany([]string{"AQAAAAEAAAAAAAA=", "AgAAAAIAAAAAAAA="}, []byte("hello")))
	f.Add(encodePostMany(nil, nil))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{2, 200, 'a'})
	f.Fuzz(func(t *testing.T, b []byte) {
		ids, data, err := decodePostMany(b, 1000)
		if err != nil {
			return
		}
		if len(ids) > 1000 {
			t.Fatalf("%d ids accepted, limit 1000", len(ids))
		}
		again, data2, err := decodePostMany(encodePostMany(ids, data), 1000)
		if err != nil || !slices.Equal(ids, again) || string(data) != string(data2) {
			t.Fatalf("round trip: %q %q %v", again, data2, err)
		}
	})
}
