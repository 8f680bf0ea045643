package testserver

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// Saturate keeps every CPU busy until the test ends, the way a shared host
// or a busy CI machine is: a killed client's commands are then still being
// executed by the servers when the next run starts, timers fire late and
// goroutines interleave differently. Crash and stop tests call it so that
// they test the busy case, which is the normal one, on every run.
//
// The burners are goroutines of the test binary (two per CPU): they compete
// with the movewizard processes and the servers for the CPUs, and they stop
// in the test's cleanup.
func Saturate(t testing.TB) {
	t.Helper()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 * runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := uint64(1)
			for {
				select {
				case <-stop:
					return
				default:
				}
				for range 1 << 16 { // about 100 µs of work between checks
					x = x*6364136223846793005 + 1442695040888963407
				}
				sink.Store(x)
			}
		}()
	}
	t.Cleanup(func() {
		close(stop)
		wg.Wait()
	})
}

// sink keeps the burners' arithmetic from being optimised away.
var sink atomic.Uint64
