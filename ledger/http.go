package ledger

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"regexp"
	"strings"

	"github.com/transparency-dev/tessera/api/layout"
)

// tilePathRE matches the tlog-tiles resource paths: tile/<L>/<N>[.p/<W>]
// and tile/entries/<N>[.p/<W>], N being x-prefixed three-digit groups.
var tilePathRE = regexp.MustCompile(`^tile/(entries|[0-9]{1,2})/((?:x[0-9]{3}/)*[0-9]{3}(?:\.p/[0-9]{1,3})?)$`)

// HTTPHandler serves the log in dir read-only over HTTP in the C2SP
// tlog-tiles layout: /checkpoint, /tile/<L>/<N>[.p/<W>] and
// /tile/entries/<N>[.p/<W>]. Mount it at the root of a path prefix (with
// http.StripPrefix if needed).
//
// Only GET and HEAD are allowed. Only those paths, in their canonical
// spelling, are served, so there is no directory listing, no access to
// tessera's private state, and no path traversal; files are opened through
// os.OpenInRoot as a second guard. Full tiles and bundles are immutable
// and marked cacheable; the checkpoint and partial resources are not.
func HTTPHandler(dir string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed: the log is read-only", http.StatusMethodNotAllowed)
			return
		}
		p, ok := strings.CutPrefix(r.URL.Path, "/")
		if !ok {
			http.NotFound(w, r)
			return
		}
		immutable, ok := canonicalResource(p)
		if !ok {
			http.NotFound(w, r)
			return
		}
		f, err := os.OpenInRoot(dir, p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				http.NotFound(w, r)
				return
			}
			http.Error(w, "cannot read log resource", http.StatusInternalServerError)
			return
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil || !st.Mode().IsRegular() {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		if p == layout.CheckpointPath {
			h.Set("Content-Type", "text/plain; charset=utf-8")
		} else {
			h.Set("Content-Type", "application/octet-stream")
		}
		if immutable {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		http.ServeContent(w, r, "", st.ModTime(), f)
	})
}

// canonicalResource reports whether p is a tlog-tiles resource path in
// canonical form, and whether the resource is immutable (a full tile or
// bundle).
func canonicalResource(p string) (immutable, ok bool) {
	if p == layout.CheckpointPath {
		return false, true
	}
	m := tilePathRE.FindStringSubmatch(p)
	if m == nil {
		return false, false
	}
	index, width, err := layout.ParseTileIndexPartial(m[2])
	if err != nil {
		return false, false
	}
	var canonical string
	if m[1] == "entries" {
		canonical = layout.EntriesPath(index, width)
	} else {
		level, err := layout.ParseTileLevel(m[1])
		if err != nil {
			return false, false
		}
		canonical = layout.TilePath(level, index, width)
	}
	if canonical != p {
		return false, false
	}
	return width == 0, true
}
