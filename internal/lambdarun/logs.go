package lambdarun

import (
	"bytes"
	"log/slog"
	"sync"
)

// maxLogLine is where a longer output line is split, as CloudWatch Logs splits events
// at 256 KB.
const maxLogLine = 256 << 10

// lineWriter logs what a process writes, a line at a time, with the function's name.
type lineWriter struct {
	log  *slog.Logger
	name string
	tap  func(line []byte) // also given each line (LogType Tail); may be nil
	mu   sync.Mutex
	buf  []byte
}

func newLineWriter(log *slog.Logger, name string, tap func([]byte)) *lineWriter {
	return &lineWriter{log: log, name: name, tap: tap}
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			for len(w.buf) >= maxLogLine {
				w.emit(w.buf[:maxLogLine])
				w.buf = append(w.buf[:0], w.buf[maxLogLine:]...)
			}
			break
		}
		w.buf = append(w.buf, p[:i]...)
		p = p[i+1:]
		for len(w.buf) > maxLogLine {
			w.emit(w.buf[:maxLogLine])
			w.buf = w.buf[maxLogLine:]
		}
		w.emit(w.buf)
		w.buf = w.buf[:0]
	}
	return n, nil
}

func (w *lineWriter) emit(line []byte) {
	line = bytes.TrimSuffix(line, []byte("\r"))
	w.log.Info(string(line), "function", w.name)
	if w.tap != nil {
		w.tap(line)
	}
}
