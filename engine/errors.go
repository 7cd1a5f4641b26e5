package engine

import "fmt"

// KindError is an error a caller branches on by its kind (errors.Is(err,
// kind)) whose text is a message for a key administrator alone, without
// the kind's own words.
type KindError struct {
	Kind error
	Msg  string
}

func (e *KindError) Error() string        { return e.Msg }
func (e *KindError) Is(target error) bool { return target == e.Kind }

// Errorf is a KindError of kind with a formatted message.
func Errorf(kind error, format string, a ...any) error {
	return &KindError{Kind: kind, Msg: fmt.Sprintf(format, a...)}
}
