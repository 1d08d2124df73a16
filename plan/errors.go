package plan

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error Parse returns is an *Error wrapping exactly
// one of ErrSyntax, ErrUnsupported, ErrUnknownName, ErrType or ErrInvalid,
// so callers can map them with errors.Is (for example all to
// codes.InvalidArgument, with ErrUnsupported worded as "not yet").
var (
	// ErrSyntax marks text that is not valid SQL (as judged by the
	// PostgreSQL parser), or not valid UTF-8, or too long.
	ErrSyntax = errors.New("syntax error")
	// ErrUnsupported marks valid SQL that uses a construct this version
	// of the planner does not run (subqueries, HAVING, ORDER BY, RIGHT
	// JOIN, conditions across institutions in one comparison, more than
	// MaxTerms products or MaxGroups groups...).
	ErrUnsupported = errors.New("unsupported in this version")
	// ErrUnknownName marks a table, column or function name that the
	// consortium schema does not declare.
	ErrUnknownName = errors.New("unknown name")
	// ErrType marks a comparison or aggregate whose operand types do not
	// fit the column's declared kind, or a category value outside the
	// column's domain.
	ErrType = errors.New("type mismatch")
	// ErrInvalid marks a query that names real things but cannot be
	// planned as written: a table joined twice, a USING column that is not
	// the person key, an unqualified column, a missing FROM clause, two
	// output columns with the same name.
	ErrInvalid = errors.New("invalid query")
	// ErrOverflow marks a plan whose worst-case aggregate could reach the
	// plaintext modulus, so the encrypted result could wrap around.
	ErrOverflow = errors.New("result could exceed the plaintext modulus")
)

// Position is a place in the query text: 1-based line and 1-based column
// counted in characters (Unicode code points); lines end at '\n'.
type Position struct {
	Line, Column int
}

// Error is a query error at a position of the query text. Its message reads
// "line L, column C: Msg"; errors.Is(err, ErrXxx) identifies its class.
type Error struct {
	Line, Column int
	Msg          string
	// Err is the sentinel this error belongs to (ErrSyntax, ErrUnsupported,
	// ErrUnknownName, ErrType or ErrInvalid).
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

// Unwrap returns the sentinel, for errors.Is.
func (e *Error) Unwrap() error { return e.Err }

// Position returns where the error is.
func (e *Error) Position() Position { return Position{Line: e.Line, Column: e.Column} }

func errorAt(p Position, sentinel error, format string, args ...any) *Error {
	return &Error{Line: p.Line, Column: p.Column, Msg: fmt.Sprintf(format, args...), Err: sentinel}
}
