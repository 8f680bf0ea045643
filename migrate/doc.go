// Package migrate is the engine of Move Mailbox Wizard: the per-mailbox move
// (IMAP hierarchy and message copy, error policy, verification, directory
// cut-over, source removal) and the runner that executes jobs of many moves.
package migrate
