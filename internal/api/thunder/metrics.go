package thunder

import "time"

// Recorder keeps the surface's meters, counters and timers. The names are
// Thunder's Dropwizard metric names, so that monitoring written for Thunder
// reads Usher's admin listener unchanged.
type Recorder interface {
	Mark(meter string)                     // one event of a meter
	Count(counter string)                  // add one to a counter
	Time(timer string, took time.Duration) // one timed event
}

// Thunder's meters: one per resource method, marked once the call is
// admitted.
const (
	MeterCreate            = "com.sanctionco.thunder.resources.UserResource.post-requests"
	MeterGet               = "com.sanctionco.thunder.resources.UserResource.get-requests"
	MeterUpdate            = "com.sanctionco.thunder.resources.UserResource.update-requests"
	MeterDelete            = "com.sanctionco.thunder.resources.UserResource.delete-requests"
	MeterSendEmail         = "com.sanctionco.thunder.resources.VerificationResource.send-email-requests"
	MeterVerifyEmail       = "com.sanctionco.thunder.resources.VerificationResource.verify-email-requests"
	MeterResetVerification = "com.sanctionco.thunder.resources.VerificationResource.reset-verification-requests"
	MeterSwagger           = "com.sanctionco.thunder.openapi.SwaggerResource.swagger-ui-requests"
)

// Thunder's counters and timers of authentication and email.
const (
	CounterBasicSuccess = "com.sanctionco.thunder.authentication.basic.BasicAuthenticator.basic-auth-verification-success"
	CounterBasicFailure = "com.sanctionco.thunder.authentication.basic.BasicAuthenticator.basic-auth-verification-failure"
	TimerBasic          = "com.sanctionco.thunder.authentication.basic.BasicAuthenticator.basic-auth-verification-time"
	CounterJWTSuccess   = "com.sanctionco.thunder.authentication.oauth.OAuthAuthenticator.jwt-verification-success"
	CounterJWTFailure   = "com.sanctionco.thunder.authentication.oauth.OAuthAuthenticator.jwt-verification-failure"
	TimerJWT            = "com.sanctionco.thunder.authentication.oauth.OAuthAuthenticator.jwt-verification-time"
	CounterEmailSuccess = "com.sanctionco.thunder.email.EmailService.email-send-success"
	CounterEmailFailure = "com.sanctionco.thunder.email.EmailService.email-send-failure"
)

// Metrics lists the metrics a surface with c keeps, as Thunder registers
// them: the authenticator's in use, and the verification and email ones
// only with email on. A registry shows them all from the start, at zero.
func Metrics(c Config) (meters, counters, timers []string) {
	meters = []string{MeterCreate, MeterGet, MeterUpdate, MeterDelete}
	if c.OAuth != nil {
		counters, timers = []string{CounterJWTSuccess, CounterJWTFailure}, []string{TimerJWT}
	} else {
		counters, timers = []string{CounterBasicSuccess, CounterBasicFailure}, []string{TimerBasic}
	}
	if !c.NoEmail {
		meters = append(meters, MeterSendEmail, MeterVerifyEmail, MeterResetVerification)
		counters = append(counters, CounterEmailSuccess, CounterEmailFailure)
	}
	return meters, counters, timers
}

// nopRecorder records nothing.
type nopRecorder struct{}

func (nopRecorder) Mark(string)                {}
func (nopRecorder) Count(string)               {}
func (nopRecorder) Time(string, time.Duration) {}
