package ledger

// SameRefusal exposes sameRefusal to the external tests.
var SameRefusal = sameRefusal
