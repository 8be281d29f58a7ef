package smapitest

import (
	"context"
	"net"
	"net/http"
	"sync"
)

// Pipe serves the fake over in-memory connections (net.Pipe) instead of its
// loopback port. Inside a testing/synctest bubble a goroutine waiting on a
// network socket keeps the fake clock still, but one waiting on a pipe lets
// it run on: with a Pipe, an HTTP client timeout or a context deadline
// passes at once and exactly, while the fake behaves as over TCP.
//
// Start the Pipe inside the bubble, dial it from the client's transport
// (http.Transport.DialContext) and Close it before the bubble ends.
type Pipe struct {
	srv   *http.Server
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

// ServePipe starts serving the fake over a Pipe.
func (s *Server) ServePipe() *Pipe {
	p := &Pipe{srv: &http.Server{Handler: s.srv.Config.Handler}, conns: make(chan net.Conn), done: make(chan struct{})}
	go func() { _ = p.srv.Serve(pipeListener{p}) }()
	return p
}

// DialContext opens a connection to the fake, whatever the address; use it
// as the client transport's DialContext.
func (p *Pipe) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	server, client := net.Pipe()
	select {
	case p.conns <- server:
		return client, nil
	case <-p.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close stops serving and closes every connection.
func (p *Pipe) Close() {
	p.once.Do(func() { close(p.done) })
	_ = p.srv.Close()
}

type pipeListener struct{ p *Pipe }

func (l pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.p.conns:
		return c, nil
	case <-l.p.done:
		return nil, net.ErrClosed
	}
}

func (l pipeListener) Close() error {
	l.p.once.Do(func() { close(l.p.done) })
	return nil
}

func (l pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }
