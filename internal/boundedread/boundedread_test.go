package boundedread

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadAll(t *testing.T) {
	t.Parallel()
	data := make([]byte, 3*maxPiece+7)
	for i := range data {
		data[i] = byte(i * 7)
	}
	readers := map[string]func([]byte) io.Reader{
		"whole":    func(b []byte) io.Reader { return bytes.NewReader(b) },
		"one byte": func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) },
		"half":     func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) },
		"data+EOF": func(b []byte) io.Reader { return iotest.DataErrReader(bytes.NewReader(b)) },
		"bounded":  func(b []byte) io.Reader { return io.LimitReader(bytes.NewReader(b), int64(len(b))) },
		"two parts": func(b []byte) io.Reader {
			return io.MultiReader(bytes.NewReader(b[:len(b)/2]), bytes.NewReader(b[len(b)/2:]))
		},
	}
	tests := []struct {
		name  string
		size  int
		first int
	}{
		{"empty", 0, 0},
		{"below the first piece", 100, 0},
		{"exactly the first piece", 512, 0},
		{"one past the first piece", 513, 0},
		{"sized by a trusted length", 5000, 5001},
		{"length without the extra byte", 5000, 5000},
		{"several pieces", 2*maxPiece + 3, 0},
		{"past the largest piece", len(data), 0},
	}
	for _, tt := range tests {
		for rname, mk := range readers {
			if rname == "one byte" && tt.size > 1<<16 {
				continue // correct but slow
			}
			t.Run(tt.name+"/"+rname, func(t *testing.T) {
				t.Parallel()
				want := data[:tt.size]
				got, err := ReadAll(mk(want), tt.first, int64(tt.size))
				require.NoError(t, err)
				assert.True(t, bytes.Equal(want, got), "got %d bytes, want %d", len(got), len(want))

				if tt.size > 0 {
					_, err = ReadAll(mk(want), tt.first, int64(tt.size-1))
					assert.ErrorIs(t, err, ErrOverLimit)
				}
			})
		}
	}
}

func TestReadAllErrors(t *testing.T) {
	t.Parallel()
	broken := errors.New("connection reset")
	tests := []struct {
		name string
		r    io.Reader
		want error
	}{
		{"error at once", iotest.ErrReader(broken), broken},
		{"error after data", io.MultiReader(bytes.NewReader(make([]byte, 3000)), iotest.ErrReader(broken)), broken},
		{"timeout", iotest.TimeoutReader(bytes.NewReader(make([]byte, 3000))), iotest.ErrTimeout},
		{"over the limit wins over a later error", io.MultiReader(bytes.NewReader(make([]byte, 3000)), iotest.ErrReader(broken)), ErrOverLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			limit := int64(1 << 20)
			if tt.want == ErrOverLimit {
				limit = 2000
			}
			got, err := ReadAll(tt.r, 0, limit)
			assert.ErrorIs(t, err, tt.want)
			assert.Nil(t, got)
		})
	}
}

// A body that outgrows the memory limit is carried on to disk, so ReadAll
// must hand back every byte it took from the reader.
func TestReadAllKeepsWhatItReadOverTheLimit(t *testing.T) {
	t.Parallel()
	data := make([]byte, 3*maxPiece+7)
	for i := range data {
		data[i] = byte(i * 13)
	}
	for _, limit := range []int64{0, 511, 512, 5000, 2*maxPiece + 1} {
		r := bytes.NewReader(data)
		_, err := ReadAll(r, 0, limit)
		var over *OverLimitError
		require.ErrorAs(t, err, &over)
		require.ErrorIs(t, err, ErrOverLimit)
		got := bytes.Join(over.Pieces, nil)
		assert.Greater(t, int64(len(got)), limit)
		rest, err := io.ReadAll(r)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(data, append(got, rest...)), "limit %d: the pieces and the rest make the body", limit)
	}
}
