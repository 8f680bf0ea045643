package imapmem

// AlterAppend makes the server store fn(body) instead of an APPENDed body,
// the way a real server rewrites messages it receives (Cyrus as shipped
// replaces raw 8-bit header bytes with 'X' and keeps the size). A nil fn
// stores bodies as received again.
func (f *Faults) AlterAppend(fn func(body []byte) []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.alter = fn
}

func (f *Faults) alterAppend(body []byte) []byte {
	f.mu.Lock()
	fn := f.alter
	f.mu.Unlock()
	if fn == nil {
		return body
	}
	return fn(body)
}

// Munge8bitHeader is Cyrus's munge8bit: every byte above 0x7f in the header
// (before the first empty line) becomes 'X'. The size stays the same.
func Munge8bitHeader(body []byte) []byte {
	out := append([]byte(nil), body...)
	for i := 0; i < len(out); i++ {
		if i+3 < len(out) && string(out[i:i+4]) == "\r\n\r\n" {
			break
		}
		if out[i] > 0x7f {
			out[i] = 'X'
		}
	}
	return out
}
