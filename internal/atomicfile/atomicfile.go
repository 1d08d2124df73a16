// Package atomicfile replaces a file's content so that a crash leaves
// either the old content or the new, never a mix, a partial file, or (for
// a private file) a moment when others could read it. It is the one
// atomic-write helper of the project: keys, certificates, the witness
// state and schemas are written through it.
package atomicfile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Write replaces path with data and mode perm: it writes a temporary file
// in the same directory (created 0600 whatever the umask, so secret bytes
// are never readable by others), syncs it, sets perm, renames it over
// path and syncs the directory so that the rename survives a crash. On
// error the temporary file is removed and path is unchanged.
func Write(path string, data []byte, perm fs.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("setting mode %04o on %s: %w", perm, path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	// Make the rename durable. Failing to sync the directory is reported:
	// the new content could otherwise vanish after a crash.
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening directory of %s to sync it: %w", path, err)
	}
	defer d.Close()
	if err = d.Sync(); err != nil {
		return fmt.Errorf("syncing directory of %s: %w", path, err)
	}
	return nil
}
