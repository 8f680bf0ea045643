package imapmem

import (
	"net"
	"sync"
	"time"
)

// pacedConn holds a connection to Options.Pace bytes per second in each
// direction, as a server on a real network and disks would be: the demo
// uses it so that a move's rate, ETA and cancel can be watched. Pauses end
// early when the server closes.
type pacedConn struct {
	net.Conn
	rate float64 // bytes per second
	done <-chan struct{}

	rmu, wmu sync.Mutex
	read     pace
	written  pace
}

// pace is one direction's account: when the bytes moved so far are due.
// Idle time is no credit: a burst after a pause is paced like any other.
type pace struct {
	due time.Time
}

// wait sleeps until n more bytes fit the rate.
func (c *pacedConn) wait(p *pace, n int) {
	now := time.Now()
	if p.due.Before(now) {
		p.due = now
	}
	p.due = p.due.Add(time.Duration(float64(n) / c.rate * float64(time.Second)))
	if d := p.due.Sub(now); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-c.done:
		}
	}
}

func (c *pacedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.rmu.Lock()
		c.wait(&c.read, n)
		c.rmu.Unlock()
	}
	return n, err
}

func (c *pacedConn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	c.wait(&c.written, len(b))
	c.wmu.Unlock()
	return c.Conn.Write(b)
}
