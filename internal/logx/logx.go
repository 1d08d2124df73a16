// Package logx builds the daemons' zerolog loggers.
package logx

import (
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"
)

// New returns a JSON logger at the named level, tagged with the component.
func New(w io.Writer, level, component string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		return zerolog.Nop(), fmt.Errorf("log level %q: %w", level, err)
	}
	zerolog.TimeFieldFormat = time.RFC3339Nano
	return zerolog.New(w).Level(lvl).With().Timestamp().Str("component", component).Logger(), nil
}
