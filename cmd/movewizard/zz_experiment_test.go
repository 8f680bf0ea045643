package main

import (
	"strings"
	"testing"
	"time"
)

func TestExperimentResumeSpeed(t *testing.T) {
	s := startServers(t, 3)
	seed(t, s.src, s.users...)
	cfg := s.config(t, "x.db")
	move := []string{"move", "-config", cfg, "-target", "dst", "-users", strings.Join(s.users, ","), "-parallel", "3", "-v"}
	killAfter(t, s.childEnv(), "job ", 150*time.Millisecond, move...)
	for i := 0; i < 2; i++ {
		start := time.Now()
		killAfter(t, s.childEnv(), "", 150*time.Millisecond, "resume", "-config", cfg, "-v")
		t.Logf("killed after %v", time.Since(start))
	}
	start := time.Now()
	r := runBinary(t, s.childEnv(), "resume", "-config", cfg, "-v")
	t.Logf("took %v: %s", time.Since(start), r)
}
