package main

import (
	"testing"
	"time"
)

func TestExperimentManyKills(t *testing.T) {
	t.Parallel()
	killAtRandomMoments(t, 30, 20*time.Millisecond, 300*time.Millisecond)
}
