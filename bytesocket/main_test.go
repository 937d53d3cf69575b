package bytesocket_test

import (
	"testing"

	"github.com/ferrygw/ferry/bytesocket/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.Main(m) }
