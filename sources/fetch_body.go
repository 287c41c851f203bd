package sources

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// fetchIdentity reports whether a Content-Encoding leaves the body as is.
func fetchIdentity(encoding string) bool {
	e := strings.ToLower(strings.TrimSpace(encoding))
	return e == "" || e == "identity"
}

// fetchReadBody reads the decoded body of resp, at most limit bytes after
// decompression; more is a *fetchTooLargeError, found as soon as the limit
// is passed, so a compression bomb costs no more than limit bytes.
func fetchReadBody(resp *http.Response, limit int64) ([]byte, error) {
	enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding")))
	switch enc {
	case "", "identity":
		return fetchLimitedRead(resp.Body, limit, resp.ContentLength)
	case "gzip", "x-gzip":
		return fetchLimitedRead(&fetchGzipReader{src: bufio.NewReader(resp.Body)}, limit, 0)
	case "deflate":
		r, err := fetchDeflateReader(bufio.NewReader(resp.Body))
		if err != nil {
			return nil, err
		}
		return fetchLimitedRead(r, limit, 0)
	default:
		return nil, fmt.Errorf("unsupported Content-Encoding %q (we asked for gzip or deflate)", enc)
	}
}

// fetchGzipReader decodes gzip member by member. Once a member is complete
// (its CRC and length checked), an end of the stream of any kind is the end
// of the body: some servers send gzip with no length and drop the
// connection, which the HTTP client reports as an unexpected EOF. A stream
// cut inside a member is still an error.
type fetchGzipReader struct {
	src *bufio.Reader
	zr  *gzip.Reader
	err error
}

func (g *fetchGzipReader) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	if g.zr == nil {
		zr, err := gzip.NewReader(g.src)
		switch {
		case errors.Is(err, io.EOF):
			// An empty body, whatever its Content-Encoding says.
			g.err = io.EOF
			return 0, io.EOF
		case err != nil:
			g.err = fmt.Errorf("gzip body: %w", err)
			return 0, g.err
		}
		zr.Multistream(false)
		g.zr = zr
	}
	for {
		n, err := g.zr.Read(p)
		if err == nil {
			return n, nil
		}
		if !errors.Is(err, io.EOF) {
			g.err = fmt.Errorf("gzip body truncated or corrupt: %w", err)
			return n, g.err
		}
		// One member is complete. Another may follow.
		if _, perr := g.src.Peek(1); perr != nil {
			g.err = io.EOF
			return n, io.EOF
		}
		if rerr := g.zr.Reset(g.src); rerr != nil {
			// Bytes after the data that are not gzip: the data is whole, drop them.
			g.err = io.EOF
			return n, io.EOF
		}
		g.zr.Multistream(false)
		if n > 0 {
			return n, nil
		}
	}
}

// fetchDeflateReader decodes "deflate", which is zlib by the standard and
// raw deflate on some servers.
func fetchDeflateReader(src *bufio.Reader) (io.Reader, error) {
	head, err := src.Peek(2)
	if len(head) == 0 && errors.Is(err, io.EOF) {
		return src, nil // empty body
	}
	if len(head) == 2 && head[0]&0x0f == 8 && (uint16(head[0])<<8|uint16(head[1]))%31 == 0 {
		zr, err := zlib.NewReader(src)
		if err != nil {
			return nil, fmt.Errorf("deflate body: %w", err)
		}
		return fetchWrapReader{zr, "deflate body truncated or corrupt"}, nil
	}
	return fetchWrapReader{flate.NewReader(src), "deflate body truncated or corrupt"}, nil
}

// fetchWrapReader prefixes a decoder's errors, leaving io.EOF alone.
type fetchWrapReader struct {
	r      io.Reader
	prefix string
}

func (w fetchWrapReader) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%s: %w", w.prefix, err)
	}
	return n, err
}
