package plan

import (
	"errors"
	"strings"
	"unicode/utf8"

	pg "github.com/pganalyze/pg_query_go/v6"
	"github.com/pganalyze/pg_query_go/v6/parser"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// MaxQueryBytes is the longest query text Parse accepts.
const MaxQueryBytes = 64 << 10

// source is the query text of one Parse call, with its lazily scanned
// tokens. It turns the parser's byte offsets into line/column positions
// and finds keywords that the parse tree records no location for.
type source struct {
	text    string
	scanned bool
	tokens  []*pg.ScanToken
}

// check rejects text the C parser must not see: too long, a NUL byte (it
// would silently end the C string) or invalid UTF-8.
func (s *source) check() *Error {
	if len(s.text) > MaxQueryBytes {
		return s.errAt(MaxQueryBytes, ErrSyntax, "query is %d bytes long; the limit is %d", len(s.text), MaxQueryBytes)
	}
	for i := 0; i < len(s.text); {
		r, n := utf8.DecodeRuneInString(s.text[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			return s.errAt(i, ErrSyntax, "invalid UTF-8 byte 0x%02x; the query must be UTF-8 text", s.text[i])
		case r == 0:
			return s.errAt(i, ErrSyntax, "NUL character in query text")
		}
		i += n
	}
	return nil
}

// pos converts a byte offset to a position. Offsets outside the text are
// clamped to it; the end of the text is a valid position.
func (s *source) pos(off int) Position {
	if off < 0 {
		off = 0
	}
	if off > len(s.text) {
		off = len(s.text)
	}
	before := s.text[:off]
	line := 1 + strings.Count(before, "\n")
	start := strings.LastIndexByte(before, '\n') + 1
	return Position{Line: line, Column: 1 + utf8.RuneCountInString(before[start:])}
}

// errAt builds an *Error at byte offset off.
func (s *source) errAt(off int, sentinel error, format string, args ...any) *Error {
	return errorAt(s.pos(off), sentinel, format, args...)
}

// syntaxError converts an error of the PostgreSQL parser. Its cursor
// position is a 1-based character index (0 when unknown).
func (s *source) syntaxError(err error) *Error {
	var pe *parser.Error
	if !errors.As(err, &pe) {
		return s.errAt(0, ErrSyntax, "%v", err)
	}
	off := 0
	if pe.Cursorpos > 0 {
		off = len(s.text)
		chars := 0
		for i := range s.text {
			if chars == pe.Cursorpos-1 {
				off = i
				break
			}
			chars++
		}
	}
	return s.errAt(off, ErrSyntax, "%s", pe.Message)
}

// toks returns the lexical tokens of the text, comments excluded, or nil
// if scanning fails (positions then fall back to node locations).
func (s *source) toks() []*pg.ScanToken {
	if !s.scanned {
		s.scanned = true
		if res, err := pg.Scan(s.text); err == nil {
			for _, t := range res.GetTokens() {
				if t.GetToken() != pg.Token_SQL_COMMENT && t.GetToken() != pg.Token_C_COMMENT {
					s.tokens = append(s.tokens, t)
				}
			}
		}
	}
	return s.tokens
}

// lastBefore returns the start of the last token of one of the kinds that
// starts before off, or fallback.
func (s *source) lastBefore(off, fallback int, kinds ...pg.Token) int {
	found := fallback
	for _, t := range s.toks() {
		if int(t.GetStart()) >= off {
			break
		}
		if isKind(t, kinds) {
			found = int(t.GetStart())
		}
	}
	return found
}

// nthAfter returns the index in toks() of the n-th (0-based) token of one
// of the kinds that starts at or after off, or -1.
func (s *source) nthAfter(off, n int, kinds ...pg.Token) int {
	for i, t := range s.toks() {
		if int(t.GetStart()) >= off && isKind(t, kinds) {
			if n == 0 {
				return i
			}
			n--
		}
	}
	return -1
}

// firstOf returns the start of the first token of one of the kinds at or
// after off, or off itself.
func (s *source) firstOf(off int, kinds ...pg.Token) int {
	if i := s.nthAfter(off, 0, kinds...); i >= 0 {
		return int(s.toks()[i].GetStart())
	}
	return off
}

// firstTokenFrom returns the start of the first token at or after off, or
// off itself.
func (s *source) firstTokenFrom(off int) int {
	for _, t := range s.toks() {
		if int(t.GetStart()) >= off {
			return int(t.GetStart())
		}
	}
	return off
}

// tokenText returns the source text of the first token at or after off.
func (s *source) tokenText(off int) string {
	for _, t := range s.toks() {
		if int(t.GetStart()) >= off && int(t.GetEnd()) <= len(s.text) && t.GetEnd() > t.GetStart() {
			return s.text[t.GetStart():t.GetEnd()]
		}
	}
	return ""
}

func isKind(t *pg.ScanToken, kinds []pg.Token) bool {
	for _, k := range kinds {
		if t.GetToken() == k {
			return true
		}
	}
	return false
}

// minLocation returns the smallest "location" recorded anywhere in a parse
// tree node, or -1 if it records none.
func minLocation(m protoreflect.ProtoMessage) int {
	if m == nil || !m.ProtoReflect().IsValid() {
		return -1
	}
	best := -1
	var walk func(protoreflect.Message)
	walk = func(msg protoreflect.Message) {
		msg.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.Name() == "location" && fd.Kind() == protoreflect.Int32Kind:
				if l := int(v.Int()); l >= 0 && (best < 0 || l < best) {
					best = l
				}
			case fd.IsList() && fd.Kind() == protoreflect.MessageKind:
				list := v.List()
				for i := 0; i < list.Len(); i++ {
					walk(list.Get(i).Message())
				}
			case fd.IsMap():
			case fd.Kind() == protoreflect.MessageKind:
				walk(v.Message())
			}
			return true
		})
	}
	walk(m.ProtoReflect())
	return best
}
