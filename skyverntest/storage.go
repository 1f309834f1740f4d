package skyverntest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
)

// storageHost stands in for the object store (S3) behind Skyvern's presigned
// URLs: a second loopback server, on its own port, so a client that sends
// the API key to the wrong host is caught. Every URL it signs carries a
// sequence number; ExpireSignedURLs makes the ones issued so far answer 403
// as an expired S3 URL does.
type storageHost struct {
	mu      sync.Mutex
	ts      *httptest.Server
	objects map[string]storedObject // by object key (the path after the host)
	seq     int
	expired int // signatures with a sequence number up to this are expired
	log     []StorageRequest
}

type storedObject struct {
	content     []byte
	contentType string
}

// StorageRequest is one request the storage host received.
type StorageRequest struct {
	Method string
	// Path is the object path; the signed query is not kept.
	Path string
	// Header holds the request headers, so a test can assert that no API
	// key reached the storage host.
	Header http.Header
	// Status is the status the storage host answered.
	Status int
}

// StorageURL returns the base URL of the fake storage host that serves the
// signed URLs of artifacts, downloaded files, recordings and uploads.
func (s *Server) StorageURL() string { return s.storage.ts.URL }

// StorageRequests returns the requests the storage host received, oldest
// first.
func (s *Server) StorageRequests() []StorageRequest {
	st := s.storage
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]StorageRequest, len(st.log))
	for i, r := range st.log {
		r.Header = r.Header.Clone()
		out[i] = r
	}
	return out
}

// ExpireSignedURLs makes every signed URL issued so far answer 403
// (AccessDenied, "Request has expired"), as S3 does past X-Amz-Expires.
// URLs signed later, e.g. by listing the artifacts again, work.
func (s *Server) ExpireSignedURLs() {
	st := s.storage
	st.mu.Lock()
	st.expired = st.seq
	st.mu.Unlock()
}

func newStorageHost() *storageHost {
	st := &storageHost{objects: map[string]storedObject{}}
	st.ts = httptest.NewServer(http.HandlerFunc(st.serve))
	return st
}

func (st *storageHost) close() {
	if st != nil {
		st.ts.Close()
	}
}

// put stores an object under key.
func (st *storageHost) put(key string, content []byte, contentType string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.objects[key] = storedObject{content: content, contentType: contentType}
}

// sign returns a fresh presigned URL for key.
func (st *storageHost) sign(key string) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.seq++
	return fmt.Sprintf("%s/%s?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=3600&X-Amz-Signature=%016x", st.ts.URL, key, st.seq)
}

const s3Expired = `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>`

const s3NoSuchKey = `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>`

func (st *storageHost) serve(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimPrefix(r.URL.Path, "/")
	st.mu.Lock()
	obj, found := st.objects[key]
	seq, err := strconv.ParseUint(r.URL.Query().Get("X-Amz-Signature"), 16, 64)
	status := http.StatusOK
	switch {
	case err != nil || seq == 0 || int(seq) > st.seq:
		status = http.StatusForbidden
	case int(seq) <= st.expired:
		status = http.StatusForbidden
	case !found:
		status = http.StatusNotFound
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		status = http.StatusMethodNotAllowed
	}
	st.log = append(st.log, StorageRequest{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Status: status})
	st.mu.Unlock()

	switch status {
	case http.StatusOK:
		w.Header().Set("Content-Type", obj.contentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(obj.content)))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(obj.content)
		}
	case http.StatusNotFound:
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(s3NoSuchKey))
	default:
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(s3Expired))
	}
}
