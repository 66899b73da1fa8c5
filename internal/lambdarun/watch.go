package lambdarun

import (
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchSettle is how long a function's files must be quiet before it is reloaded, so an
// editor's or a build's burst of writes reloads once.
const watchSettle = 200 * time.Millisecond

// watcher reloads a function when a file under its CodeDir changes.
type watcher struct {
	rt   *Runtime
	w    *fsnotify.Watcher
	dirs map[string][]string // watched directory → functions whose CodeDir holds it
	done chan struct{}
	wg   sync.WaitGroup
}

func newWatcher(rt *Runtime) (*watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	w := &watcher{rt: rt, w: fw, dirs: map[string][]string{}, done: make(chan struct{})}
	for name, f := range rt.funcs {
		// fsnotify watches one directory, not a tree: add every directory under
		// CodeDir but node_modules and dot directories.
		_ = filepath.WalkDir(f.cfg.CodeDir, func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			if p != f.cfg.CodeDir && (d.Name() == "node_modules" || d.Name()[0] == '.' || d.Name() == "__pycache__") {
				return filepath.SkipDir
			}
			if len(w.dirs[p]) == 0 {
				if err := fw.Add(p); err != nil {
					return nil
				}
			}
			w.dirs[p] = append(w.dirs[p], name)
			return nil
		})
	}
	w.wg.Add(1)
	go w.loop()
	return w, nil
}

func (w *watcher) loop() {
	defer w.wg.Done()
	pending := map[string]bool{}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-w.done:
			timer.Stop()
			return
		case ev, ok := <-w.w.Events:
			if !ok {
				return
			}
			if ev.Op == fsnotify.Chmod || filepath.Base(ev.Name) == "__pycache__" || filepath.Ext(ev.Name) == ".pyc" {
				continue
			}
			for _, name := range w.dirs[filepath.Dir(ev.Name)] {
				pending[name] = true
			}
			timer.Reset(watchSettle)
		case err, ok := <-w.w.Errors:
			if !ok {
				return
			}
			w.rt.log.Warn("lambda: watching code", "err", err)
		case <-timer.C:
			for name := range pending {
				_ = w.rt.Reload(name)
			}
			clear(pending)
		}
	}
}

func (w *watcher) close() {
	close(w.done)
	_ = w.w.Close()
	w.wg.Wait()
}
