package migrate

// SetBatchBounds sets the MULTIAPPEND batch bounds (msgs <= 1: single
// APPENDs only) and returns a function restoring the previous ones. Only
// for tests that do not run in parallel with others.
func SetBatchBounds(msgs int, bytes int64) (restore func()) {
	pm, pb := batchMsgs.Swap(int64(msgs)), batchBytes.Swap(bytes)
	return func() { batchMsgs.Store(pm); batchBytes.Store(pb) }
}

// ObserveBatches makes fn see the answer to every MULTIAPPEND until the
// returned function is called.
func ObserveBatches(fn func(msgs int, err error)) (stop func()) {
	batchHook.Store(&fn)
	return func() { batchHook.Store(nil) }
}
