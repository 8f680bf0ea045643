package migrate

import (
	"io"
	"sync"
)

// bodyBuffers are the buffers message bodies stream through. io.Copy
// would allocate 32 KiB per message (neither the literal reader nor a
// MultiWriter offers WriterTo or ReaderFrom); the profile of a copy showed
// those allocations among the mover's largest costs.
var bodyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// copyBody is io.Copy through a pooled buffer.
func copyBody(dst io.Writer, src io.Reader) (int64, error) {
	bp := bodyBuffers.Get().(*[]byte)
	defer bodyBuffers.Put(bp)
	return io.CopyBuffer(dst, src, *bp)
}
