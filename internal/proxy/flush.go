package proxy

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/encoding"
)

// DefaultFlushDelay is how long an injected page's bytes may wait in the
// proxy's buffer for more to join them before they are sent anyway.
//
// ReverseProxy flushes after every write of a body whose length is unknown,
// which every injected page is: each flush is one or two write(2) calls of
// a chunk header and a few KiB: a quarter of the proxy's CPU. An
// injected page's bytes are instead gathered into chunks of 32 KiB. Its
// head (with the loader, so the browser can start) is flushed at once,
// later bytes within the delay, the end with the end.
const DefaultFlushDelay = 5 * time.Millisecond

// coalesce makes s gather an injected page's writes in a buffer from pool
// and hold back ReverseProxy's flushes (see DefaultFlushDelay); with enc, the page
// is compressed as it is written, and the compressor is flushed only when
// the connection is, so it is not cut into small blocks and what is held
// back is not stuck inside it. Called from modifyResponse, before the body
// is copied.
func (s *statusWriter) coalesce(enc encoding.Encoder, pool *bufferPool, delay time.Duration, http1 bool) {
	s.coalescing = true
	s.http1 = http1
	s.length = -1
	s.enc = enc
	s.pool = pool
	s.delay = delay
}

// encodeTo is where s's encoder writes: s's buffer, or nowhere once the
// response is aborted. It is called with s.mu held.
type encodeTo struct{ s *statusWriter }

func (e encodeTo) Write(p []byte) (int, error) {
	if e.s.discard {
		return len(p), nil
	}
	return e.s.bufferedWrite(p)
}

// bufferedWrite adds p to s's buffer, sending the buffer to the client
// each time it is full, so the client gets chunks of the buffer's size
// whatever the sizes of the upstream's reads; a p as large as the buffer
// finding it empty goes out directly. s.mu is held.
func (s *statusWriter) bufferedWrite(p []byte) (int, error) {
	if s.buf == nil {
		s.buf = s.pool.Get()[:0]
	}
	total := len(p)
	for len(p) > 0 {
		if len(s.buf) == 0 && len(p) >= cap(s.buf) {
			if _, err := s.writeClient(p); err != nil {
				return total - len(p), err
			}
			break
		}
		n := copy(s.buf[len(s.buf):cap(s.buf)], p)
		s.buf, p = s.buf[:len(s.buf)+n], p[n:]
		if len(s.buf) == cap(s.buf) {
			if err := s.drain(); err != nil {
				return total - len(p), err
			}
		}
	}
	return total, nil
}

// drain sends the buffer to the client. s.mu is held.
func (s *statusWriter) drain() error {
	if len(s.buf) == 0 {
		return nil
	}
	_, err := s.writeClient(s.buf)
	s.buf = s.buf[:0]
	return err
}

// flushNext makes the next Flush immediate: the head (or the decision not
// to inject) has just been read; tagEnd is the body offset just past the
// loader tag (-1 for none).
func (s *statusWriter) flushNext(tagEnd int64) {
	s.mu.Lock()
	s.flushNow = true
	s.tagEnd = tagEnd
	s.mu.Unlock()
}

// connWriteBuffer is the size of net/http's write buffer on each HTTP/1
// connection (server.go: newBufioWriterSize(..., 4<<10)); headerSlack
// covers what headerSize does not count (a long reason phrase).
const (
	connWriteBuffer = 4 << 10
	headerSlack     = 64
)

// flushHead sends the head of the page at once, with the status. If the
// status and the head overflow net/http's connection buffer, the buffer
// goes out full and the rest would take a write(2) of its own at the
// flush: a few hundred bytes, for nothing, since the page's next bytes
// usually follow within microseconds. Then only what fits goes now (the
// loader tag included, or the split is not made), and the rest waits for
// the next bytes or the flush delay. A compressed page is flushed whole:
// its head is in the compressor. s.mu is held.
func (s *statusWriter) flushHead() {
	if s.heldCode != 0 && s.http1 && s.enc == nil {
		room := connWriteBuffer - headerSize(s.ResponseWriter.Header(), s.length < 0)
		if room > 0 && room < len(s.buf) && int64(room) >= s.tagEnd {
			if _, err := s.writeClient(s.buf[:room]); err != nil {
				return
			}
			s.buf = s.buf[:copy(s.buf, s.buf[room:])]
			if f, ok := s.ResponseWriter.(http.Flusher); ok {
				f.Flush()
			}
			s.armFlush(s.delay)
			return
		}
	}
	s.flushLocked()
}

// headerSize is at least the size net/http gives the status line and
// headers h (with the Date it adds and, if chunked, the encoding and the
// first chunk's size line).
func headerSize(h http.Header, chunked bool) int {
	n := len("HTTP/1.1 200 OK\r\n") + len("Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n") + len("\r\n") + headerSlack
	for k, vv := range h {
		for _, v := range vv {
			n += len(k) + len(": \r\n") + len(v)
		}
	}
	if chunked {
		n += len("Transfer-Encoding: chunked\r\n") + len("8000\r\n")
	}
	return n
}

// sourceDone says the upstream body has ended: the rest of the page is in
// memory and follows at once, so Flushes are held back no more (the end
// sends it all; see finish).
func (s *statusWriter) sourceDone() {
	s.mu.Lock()
	s.srcDone = true
	s.mu.Unlock()
}

// holdHeader reports whether an injected page's status and headers may
// wait for its first bytes. Then a page that is complete before any of it
// is sent (see finish) goes out with a Content-Length, as a whole: in two
// write(2) calls instead of four for a 10 KB page. Not with announced
// trailers: ReverseProxy adds their values to the header map after the
// body, and a late header would carry them as headers.
func (s *statusWriter) holdHeader() bool {
	_, trailers := s.ResponseWriter.Header()["Trailer"]
	return !trailers
}

// knownLength says how long the body will be, if its status is still held:
// it is then sent with a Content-Length, and net/http writes the body
// straight to the connection instead of in chunks, each of which costs a
// write(2) more (the chunk's header goes into the connection's 4 KiB
// buffer ahead of it).
func (s *statusWriter) knownLength(n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.heldCode != 0 {
		s.length = n
	}
}

// sendHeader writes the held status, with the body's length if it is
// known. Not when ReverseProxy has added trailers (keys with
// http.TrailerPrefix): they need the chunked encoding. s.mu is held, or
// the body has not started.
func (s *statusWriter) sendHeader() {
	code := s.heldCode
	s.heldCode = 0
	if s.length >= 0 && !hasTrailers(s.ResponseWriter.Header()) {
		s.ResponseWriter.Header().Set("Content-Length", strconv.FormatInt(s.length, 10))
	}
	s.ResponseWriter.WriteHeader(code)
}

func hasTrailers(h http.Header) bool {
	for k := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			return true
		}
	}
	return false
}

// delayedFlush runs on s.timer.
func (s *statusWriter) delayedFlush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending && !s.finished {
		s.flushLocked()
	}
}

// flushLocked flushes the encoder and the connection. s.mu is held.
func (s *statusWriter) flushLocked() {
	s.pending = false
	if s.enc != nil {
		if err := s.enc.Flush(); err != nil {
			s.recordErr(err)
			return
		}
	}
	if s.drain() != nil {
		return
	}
	if s.heldCode != 0 {
		s.sendHeader() // net/http's Flush would send 200
	}
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// endBody ends the page: with complete, the encoder writes its last bytes
// (to the buffer, which finish sends); without, they are discarded (the
// transfer is broken off and must not look complete). From here on the
// timer no longer touches the client's ResponseWriter: ReverseProxy goes
// on to use its header map (trailers) without s.mu. Idempotent.
func (s *statusWriter) endBody(complete bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished {
		return nil
	}
	s.finished = true
	if s.timer != nil {
		s.timer.Stop()
	}
	enc := s.enc
	if enc == nil {
		s.complete = complete
		return nil
	}
	s.enc = nil
	s.discard = !complete
	err := enc.Close()
	s.complete = complete && err == nil
	return err
}

// finish sends what is still held back; the server flushes it as the
// handler returns, also when it then breaks the connection off after a
// failed copy (its final flush). An encoder still open after a failed copy
// is released without its last bytes: the client must see a broken
// transfer, never a page that looks complete.
func (s *statusWriter) finish() {
	if !s.coalescing {
		return
	}
	s.endBody(false)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.heldCode != 0 {
		// Nothing is sent yet: a complete page goes out whole.
		if s.complete {
			s.length = int64(len(s.buf))
		}
		s.sendHeader()
	}
	s.drain()
	if s.buf != nil {
		s.pool.Put(s.buf[:cap(s.buf)])
		s.buf = nil
	}
}
