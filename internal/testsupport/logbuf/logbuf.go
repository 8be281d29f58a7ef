// Package logbuf is a buffer that many goroutines, or a child process's
// stdout and stderr, can write to at once: tests capture logs in it and then
// assert that no secret reached them.
package logbuf

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
)

// Buffer is a bytes.Buffer safe for concurrent use. The zero value is empty
// and ready to use.
type Buffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // closed (and replaced) by the next Write
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
	return b.b.Write(p)
}

// WaitFor waits until s occurs at least n times in what was written, or ctx
// ends: a child process's output arrives after the answer that caused it.
func (b *Buffer) WaitFor(ctx context.Context, s string, n int) error {
	for {
		b.mu.Lock()
		got := strings.Count(b.b.String(), s)
		if got >= n {
			b.mu.Unlock()
			return nil
		}
		if b.changed == nil {
			b.changed = make(chan struct{})
		}
		changed := b.changed
		b.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("%d of %d %q written: %w", got, n, s, ctx.Err())
		}
	}
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
