package webhook

// Forbidden and RefuseAddress expose the address checks.
var (
	Forbidden     = forbidden
	RefuseAddress = refuseAddress
)
