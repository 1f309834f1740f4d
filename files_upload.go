package skyvern

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"unicode"
)

// DefaultMaxUploadBytes is the size UploadFile accepts unless
// UploadFileParams.MaxBytes says otherwise: Skyvern Cloud's limit
// (MAX_UPLOAD_FILE_SIZE, 10 MiB), above which the server answers 413.
const DefaultMaxUploadBytes = 10 << 20

// MaxRetentionDays is the longest retention Skyvern's default
// configuration accepts for an uploaded file.
const MaxRetentionDays = 365

// UploadFileParams are the optional settings of UploadFile.
type UploadFileParams struct {
	// RetentionDays deletes the file this many days after the upload (1 to
	// MaxRetentionDays); nil keeps it until the organization's data
	// retention policy removes it.
	RetentionDays *int
	// MaxBytes bounds the file; 0 means DefaultMaxUploadBytes. A
	// self-hosted server may accept more (its MAX_UPLOAD_FILE_SIZE).
	MaxBytes int64
}

// UploadedFile is the answer of UploadFile (Skyvern's UploadFileResponse).
type UploadedFile struct {
	// S3URI is where the server stored the file.
	S3URI string `json:"s3_uri"`
	// PresignedURL reads the file back for a limited time.
	PresignedURL string `json:"presigned_url"`
	// FileID names the upload (file_…): put it in TaskRunRequest.FileIDs
	// or WorkflowRunRequest.FileIDs to attach it to a run. Servers before
	// file ids leave it empty.
	FileID string `json:"file_id,omitempty"`
	// ExpiresAt is when the server deletes the file, when RetentionDays
	// was given.
	ExpiresAt *Time `json:"expires_at,omitempty"`
}

// UploadFile uploads a file (POST /v1/upload_file, multipart/form-data with
// the file in the "file" part and the optional retention_days field). name is
// the file name the server records; r is read once, to its end, while the
// request is sent: the file is streamed and never held in memory, so its
// size is bounded by params.MaxBytes, not by memory. A longer file fails with
// ErrUploadTooLarge and leaves nothing on the server. params may be nil.
//
// Retries: an upload is not billed work, but an upload whose answer is lost
// has still stored a file, and a resend would store a second one (and r
// cannot be read twice anyway). So UploadFile is sent again only when no byte
// of r has been read and the attempt provably did not reach the server (the
// connection could not be made) or was refused with 429 before the body was
// read. After a 5xx, a timeout or a dropped connection the error matches
// ErrOutcomeUnknown: the file may exist without its id reaching you. Uploading
// again is safe in that case; the orphan is deleted with its retention period,
// or by the organization's retention policy.
func (c *Client) UploadFile(ctx context.Context, name string, r io.Reader, params *UploadFileParams, opts ...RequestOption) (*UploadedFile, error) {
	if err := validateUploadName(name); err != nil {
		return nil, err
	}
	if r == nil {
		return nil, &InvalidRequestError{Field: "file", Reason: "reader must not be nil"}
	}
	var p UploadFileParams
	if params != nil {
		p = *params
	}
	if p.MaxBytes < 0 {
		return nil, &InvalidRequestError{Field: "MaxBytes", Reason: "must not be negative"}
	}
	if p.MaxBytes == 0 {
		p.MaxBytes = DefaultMaxUploadBytes
	}
	if p.RetentionDays != nil && (*p.RetentionDays < 1 || *p.RetentionDays > MaxRetentionDays) {
		return nil, &InvalidRequestError{Field: "retention_days", Reason: fmt.Sprintf("must be between 1 and %d", MaxRetentionDays)}
	}

	up := newMultipartUpload(name, r, p)
	defer up.stop()
	rc := c.newRequestConfig(opts)
	call := apiCall{
		method: http.MethodPost, path: c.endpoint("v1", "upload_file"), class: retryUnsafe,
		stream: &streamBody{contentType: up.contentType(), open: up.open, replayable: up.replayable},
	}
	resp, err := c.do(ctx, call, &rc)
	// The writer goroutine is done once stop returns; only then is its
	// verdict on the source final.
	up.stop()
	if srcErr := up.sourceErr(); srcErr != nil {
		// The body was cut short, so the server cannot have stored the
		// file, whatever the transport made of it.
		return nil, fmt.Errorf("skyvern: %s %s: %w", call.method, call.path, srcErr)
	}
	if err != nil {
		return nil, err
	}
	var out UploadedFile
	if err := decodeJSON(call, resp.body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// MaxRunFileIDs is the most uploaded files one run takes (FileIDs).
const MaxRunFileIDs = 50

// validateFileIDs checks a run's FileIDs: at most MaxRunFileIDs, none empty.
func validateFileIDs(ids []string) error {
	if len(ids) > MaxRunFileIDs {
		return &InvalidRequestError{Field: "file_ids", Reason: fmt.Sprintf("has %d ids; at most %d are allowed", len(ids), MaxRunFileIDs)}
	}
	for i, id := range ids {
		if isBlank(id) {
			return &InvalidRequestError{Field: fmt.Sprintf("file_ids[%d]", i), Reason: "must not be empty"}
		}
	}
	return nil
}

// validateUploadName rejects names that cannot travel in a multipart
// header: control characters would end the header line early.
func validateUploadName(name string) error {
	if isBlank(name) {
		return &InvalidRequestError{Field: "name", Reason: "must not be empty"}
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return &InvalidRequestError{Field: "name", Reason: "must not contain control characters"}
		}
	}
	return nil
}

// errStreamConsumed ends a retry that would need the already-read source.
var errStreamConsumed = errors.New("skyvern: the upload's reader has been read from and cannot be sent again")

// multipartUpload produces the multipart body through a pipe, one attempt
// at a time: a goroutine writes the parts into the pipe while the transport
// reads from it, so only the copy buffer is in memory.
type multipartUpload struct {
	name     string
	src      io.Reader
	params   UploadFileParams
	boundary string

	touched atomic.Bool // a Read of src has started

	mu      sync.Mutex
	pr      *io.PipeReader
	done    chan struct{} // closed when the current writer goroutine ends
	srcErr  error         // a failure of the source or the size bound
	stopped bool
}

func newMultipartUpload(name string, src io.Reader, p UploadFileParams) *multipartUpload {
	return &multipartUpload{name: name, src: src, params: p, boundary: multipart.NewWriter(io.Discard).Boundary()}
}

func (u *multipartUpload) contentType() string {
	return "multipart/form-data; boundary=" + u.boundary
}

func (u *multipartUpload) replayable() bool { return !u.touched.Load() }

// open starts the body of one attempt. A previous attempt's writer, which
// may still wait for a reader that will never come, is ended first, so two
// writers never share the source.
func (u *multipartUpload) open() (io.Reader, error) {
	u.endWriter()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.stopped {
		return nil, errors.New("skyvern: upload already finished")
	}
	if u.touched.Load() {
		return nil, errStreamConsumed
	}
	pr, pw := io.Pipe()
	u.pr, u.done = pr, make(chan struct{})
	go u.write(pw, u.done)
	return pr, nil
}

// endWriter closes the current pipe and waits for its writer.
func (u *multipartUpload) endWriter() {
	u.mu.Lock()
	pr, done := u.pr, u.done
	u.pr, u.done = nil, nil
	u.mu.Unlock()
	if pr == nil {
		return
	}
	_ = pr.CloseWithError(errors.New("skyvern: upload attempt ended"))
	<-done
}

// stop ends the upload: no attempt may start after it, and the source is
// not read once it returns.
func (u *multipartUpload) stop() {
	u.mu.Lock()
	u.stopped = true
	u.mu.Unlock()
	u.endWriter()
}

func (u *multipartUpload) sourceErr() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.srcErr
}

func (u *multipartUpload) write(pw *io.PipeWriter, done chan struct{}) {
	defer close(done)
	mw := multipart.NewWriter(pw)
	if err := mw.SetBoundary(u.boundary); err != nil {
		_ = pw.CloseWithError(err)
		return
	}
	if u.params.RetentionDays != nil {
		if err := mw.WriteField("retention_days", strconv.Itoa(*u.params.RetentionDays)); err != nil {
			_ = pw.CloseWithError(err)
			return
		}
	}
	part, err := mw.CreateFormFile("file", u.name)
	if err != nil {
		// Nobody read the part header, so the source is untouched and a
		// later attempt may still send it.
		_ = pw.CloseWithError(err)
		return
	}
	src := &boundedSource{r: u.src, limit: u.params.MaxBytes, touched: &u.touched}
	_, err = io.Copy(part, src)
	if err == nil {
		err = mw.Close()
	}
	if src.err != nil {
		u.mu.Lock()
		u.srcErr = src.err
		u.mu.Unlock()
		err = src.err
	}
	_ = pw.CloseWithError(err) // nil closes the pipe with io.EOF
}

// boundedSource reads the caller's file, marks it touched on the first
// Read and fails once more than limit bytes arrive.
type boundedSource struct {
	r       io.Reader
	limit   int64
	n       int64
	touched *atomic.Bool
	err     error // the source's own failure or the size bound
}

func (b *boundedSource) Read(p []byte) (int, error) {
	b.touched.Store(true)
	// One byte past the limit is enough to know the file is too long.
	if rest := b.limit + 1 - b.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.n > b.limit {
		b.err = fmt.Errorf("%w: the file is longer than %d bytes (UploadFileParams.MaxBytes)", ErrUploadTooLarge, b.limit)
		return 0, b.err
	}
	if err != nil && err != io.EOF {
		b.err = fmt.Errorf("reading the file: %w", err)
		return n, b.err
	}
	return n, err
}
