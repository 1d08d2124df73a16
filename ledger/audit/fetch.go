package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// maxResource bounds one fetched resource: a full entry bundle of 256
// maximal entries.
const maxResource = 256 * (2 + 1<<16)

// Fetcher returns the bytes of a tlog-tiles resource given its path
// relative to the log root ("checkpoint", "tile/0/000", "tile/entries/x001/234.p/7").
// A missing resource must be reported by an error wrapping fs.ErrNotExist.
type Fetcher func(path string) ([]byte, error)

// DirFetcher reads resources from a copy of the log directory. Paths are
// opened with os.OpenInRoot, so nothing outside dir is read.
func DirFetcher(dir string) Fetcher {
	return func(p string) ([]byte, error) {
		f, err := os.OpenInRoot(dir, p)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxResource+1))
		if err != nil {
			return nil, err
		}
		if len(b) > maxResource {
			return nil, fmt.Errorf("%s is larger than %d bytes", p, maxResource)
		}
		return b, nil
	}
}

// HTTPFetcher reads resources from a log served over HTTP (for example by
// ledger.HTTPHandler) under base, e.g. "https://ledger.example/log/".
// A 404 is reported as fs.ErrNotExist. ctx bounds every request.
func HTTPFetcher(ctx context.Context, base string, c *http.Client) (Fetcher, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("log URL %q: want an http or https URL", base)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	if c == nil {
		c = http.DefaultClient
	}
	return func(p string) ([]byte, error) {
		ref, err := url.Parse(p)
		if err != nil || ref.IsAbs() || strings.HasPrefix(p, "/") {
			return nil, fmt.Errorf("resource path %q is not relative", p)
		}
		target := u.ResolveReference(ref)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
		if err != nil {
			return nil, err
		}
		resp, err := c.Do(req)
		if err != nil {
			return nil, fmt.Errorf("GET %s: %w", target, err)
		}
		defer resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
		case http.StatusNotFound:
			return nil, fmt.Errorf("GET %s: %w", target, fs.ErrNotExist)
		default:
			return nil, fmt.Errorf("GET %s: status %s", target, resp.Status)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxResource+1))
		if err != nil {
			return nil, fmt.Errorf("GET %s: %w", target, err)
		}
		if len(b) > maxResource {
			return nil, fmt.Errorf("GET %s: larger than %d bytes", target, maxResource)
		}
		return b, nil
	}, nil
}

// notExist reports whether err says the resource is missing.
func notExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
