//! The gRPC server: `key_provider.KeyProviderService` over the same [`Service`] as the HTTP API,
//! plus server reflection (v1 and v1alpha, so old and new `grpcurl` both list it). Requests
//! are routed by path prefix without a router framework (smaller binary).
//!
//! Connections go through the same accept loop and connection table as the HTTP server
//! (cap, room made by closing the longest-waiting connection, back-off at the descriptor
//! limit), with the HTTP/2 limits of [`super::conn`]: handshake and idle timeouts, a request
//! deadline, at most [`MAX_STREAMS`] streams per connection and [`MAX_IN_FLIGHT`] requests in
//! progress in all (Unavailable beyond).

use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use tonic::codegen::{BoxFuture, Context, Poll, Service as TowerService, http};
use tonic::{Request, Response, Status};

use super::conn::{Activity, DeadlineBody, GrpcWatchdog};
use super::keys;
use super::pb::key_provider_service_server::{KeyProviderService, KeyProviderServiceServer};
use super::pb::{
    HelloReply, HelloRequest, KeyProviderGetAttestationDataInput,
    KeyProviderGetAttestationDataOutput, KeyProviderGetReportInput, KeyProviderGetReportOutput,
    KeyProviderKeyWrapProtocolInput, KeyProviderKeyWrapProtocolOutput,
};
use super::protocol;
use crate::api::body::{RuntimeDataRequest, decode_base64};
use crate::api::http::{Service, ServiceError};
use crate::server::accept::{OnConnection, serve_and_drain};
use crate::server::conns::ConnHandle;
use crate::server::drive::drive;
use crate::server::stream::ConnStream;

/// Largest request message accepted.
pub const MAX_MESSAGE: usize = 1024 * 1024;
/// Streams one connection may have open at once.
pub const MAX_STREAMS: u32 = 8;
/// Requests in progress across all connections (each may hold up to [`MAX_MESSAGE`]).
pub const MAX_IN_FLIGHT: usize = 32;
/// Largest request header block.
const MAX_HEADERS: u32 = 16 * 1024;

/// The gRPC status for a service failure: the code of its class (README, "Status codes";
/// upstream answers Unknown for all of them).
pub fn grpc_status(e: ServiceError) -> Status {
    Status::new(e.failure.grpc_code(), e.message)
}

/// The key provider over a [`Service`].
#[derive(Debug)]
pub struct KeyProvider<S> {
    service: Arc<S>,
}

impl<S> KeyProvider<S> {
    /// A key provider answering with `service`.
    pub fn new(service: Arc<S>) -> Self {
        KeyProvider { service }
    }
}

fn invalid(e: impl std::fmt::Display) -> Status {
    Status::invalid_argument(e.to_string())
}

#[tonic::async_trait]
impl<S: Service> KeyProviderService for KeyProvider<S> {
    async fn wrap_key(
        &self,
        request: Request<KeyProviderKeyWrapProtocolInput>,
    ) -> Result<Response<KeyProviderKeyWrapProtocolOutput>, Status> {
        let input = request.into_inner().key_provider_key_wrap_protocol_input;
        let req = protocol::parse_wrap(&input).map_err(invalid)?;
        let annotation = keys::wrap_for_key_path(&req.key_path, &req.optsdata)
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(KeyProviderKeyWrapProtocolOutput {
            key_provider_key_wrap_protocol_output: protocol::wrap_output(&annotation),
        }))
    }

    async fn un_wrap_key(
        &self,
        request: Request<KeyProviderKeyWrapProtocolInput>,
    ) -> Result<Response<KeyProviderKeyWrapProtocolOutput>, Status> {
        let input = request.into_inner().key_provider_key_wrap_protocol_input;
        let ann = protocol::parse_unwrap(&input).map_err(invalid)?.annotation;
        let release = crate::api::body::ReleaseRequest::new(
            &ann.attester_endpoint,
            &ann.kms_endpoint,
            &ann.kid,
            None,
        )
        .map_err(invalid)?;
        let jwk = self
            .service
            .release_key(release)
            .await
            .map_err(grpc_status)?;
        let plain = keys::decrypt_with_jwk(jwk.expose(), &ann.wrapped_data)
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(KeyProviderKeyWrapProtocolOutput {
            key_provider_key_wrap_protocol_output: protocol::unwrap_output(&plain),
        }))
    }

    /// As upstream, REPORT_DATA is SHA-256 of the hex string's ASCII text (not of its decoding),
    /// so that clients which check it the upstream way keep working.
    async fn get_report(
        &self,
        request: Request<KeyProviderGetReportInput>,
    ) -> Result<Response<KeyProviderGetReportOutput>, Status> {
        let text = request.into_inner().report_data_hex_string;
        let report = self
            .service
            .attest_raw(RuntimeDataRequest {
                runtime_data: text.into_bytes(),
            })
            .await
            .map_err(grpc_status)?;
        Ok(Response::new(KeyProviderGetReportOutput {
            report_hex_string: csc_core::hex::Hex(&report).to_string(),
        }))
    }

    async fn get_attestation_data(
        &self,
        request: Request<KeyProviderGetAttestationDataInput>,
    ) -> Result<Response<KeyProviderGetAttestationDataOutput>, Status> {
        let b64 = request.into_inner().b64_runtime_data_string;
        let runtime_data = decode_base64("b64_runtime_data_string", &b64).map_err(invalid)?;
        let c = self
            .service
            .attest_combined(RuntimeDataRequest { runtime_data })
            .await
            .map_err(grpc_status)?;
        Ok(Response::new(KeyProviderGetAttestationDataOutput {
            endorsed_tcb: c.endorsed_tcb,
            certs: c.endorsements,
            attestation_report: c.evidence,
            uvm_reference_info: c.uvm_endorsements,
        }))
    }

    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloReply>, Status> {
        Ok(Response::new(HelloReply {
            message: format!("Hello {}", request.into_inner().name),
        }))
    }
}

type Req = http::Request<tonic::body::Body>;
type Resp = http::Response<tonic::body::Body>;

/// Routes by path prefix to the key provider or one of the reflection services.
#[derive(Debug, Clone)]
struct Dispatch<A, B, C> {
    key_provider: A,
    reflection_v1: B,
    reflection_v1alpha: C,
}

fn forward<T>(svc: &T, req: Req) -> BoxFuture<Resp, Infallible>
where
    T: TowerService<Req, Response = Resp, Error = Infallible> + Clone + Send + 'static,
    T::Future: Send + 'static,
{
    let mut svc = svc.clone();
    Box::pin(async move { svc.call(req).await })
}

impl<A, B, C> TowerService<Req> for Dispatch<A, B, C>
where
    A: TowerService<Req, Response = Resp, Error = Infallible> + Clone + Send + 'static,
    A::Future: Send + 'static,
    B: TowerService<Req, Response = Resp, Error = Infallible> + Clone + Send + 'static,
    B::Future: Send + 'static,
    C: TowerService<Req, Response = Resp, Error = Infallible> + Clone + Send + 'static,
    C::Future: Send + 'static,
{
    type Response = Resp;
    type Error = Infallible;
    type Future = BoxFuture<Resp, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let path = req.uri().path();
        if path.starts_with("/key_provider.KeyProviderService/") {
            forward(&self.key_provider, req)
        } else if path.starts_with("/grpc.reflection.v1.ServerReflection/") {
            forward(&self.reflection_v1, req)
        } else if path.starts_with("/grpc.reflection.v1alpha.ServerReflection/") {
            forward(&self.reflection_v1alpha, req)
        } else {
            let status = Status::unimplemented(format!("no such method {path}"));
            Box::pin(async move { Ok(status.into_http()) })
        }
    }
}

/// Why the gRPC server could not run.
#[derive(Debug, thiserror::Error)]
pub enum GrpcError {
    /// The reflection service could not be built from the descriptor set.
    #[error("gRPC reflection: {0}")]
    Reflection(String),
}

struct GrpcConnections<D> {
    dispatch: D,
    in_flight: Arc<Semaphore>,
    stop: tokio::sync::watch::Receiver<bool>,
}

fn busy() -> Resp {
    Status::unavailable(format!(
        "server busy: {MAX_IN_FLIGHT} requests in progress; retry shortly"
    ))
    .into_http()
}

impl<D> OnConnection for GrpcConnections<D>
where
    D: TowerService<Req, Response = Resp, Error = Infallible> + Clone + Send + Sync + 'static,
    D::Future: Send + 'static,
{
    fn serve(&mut self, stream: TcpStream, handle: ConnHandle) {
        let stream = ConnStream::new(stream, handle.clone());
        let state = stream.state();
        let activity = Activity::new(handle.clone());
        let dispatch = self.dispatch.clone();
        let in_flight = self.in_flight.clone();
        let streams = activity.clone();
        let service =
            hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                let mut dispatch = dispatch.clone();
                let permit = in_flight.clone().try_acquire_owned();
                let guard = Arc::new(Mutex::new(streams.stream_opened()));
                async move {
                    let Ok(permit) = permit else {
                        return Ok::<_, Infallible>(busy());
                    };
                    let req =
                        req.map(|b| tonic::body::Body::new(DeadlineBody::new(b, guard.clone())));
                    let response = dispatch.call(req).await;
                    drop((permit, guard));
                    response
                }
            });
        let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .max_concurrent_streams(MAX_STREAMS)
            .max_header_list_size(MAX_HEADERS)
            .keep_alive_interval(Some(Duration::from_secs(60)))
            .keep_alive_timeout(Duration::from_secs(20))
            .serve_connection(TokioIo::new(stream), service);
        let stop = self.stop.clone();
        tokio::spawn(async move {
            let mut dog = GrpcWatchdog::new(state.clone(), activity);
            drive(conn, handle, state, stop, Some(&mut dog)).await;
        });
    }

    fn refuse(&mut self, stream: TcpStream) {
        // Nothing HTTP/2 can say before its handshake: close.
        drop(stream);
    }
}

/// Serves the key provider and reflection on `listener` until `shutdown` completes, then
/// drains connections.
pub async fn serve<S: Service>(
    listener: tokio::net::TcpListener,
    service: Arc<S>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), GrpcError> {
    let key_provider = KeyProviderServiceServer::new(KeyProvider::new(service))
        .max_decoding_message_size(MAX_MESSAGE);
    let builder = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(super::DESCRIPTOR_SET)
    };
    let reflection_v1 = builder()
        .build_v1()
        .map_err(|e| GrpcError::Reflection(e.to_string()))?;
    let reflection_v1alpha = builder()
        .build_v1alpha()
        .map_err(|e| GrpcError::Reflection(e.to_string()))?;
    let dispatch = Dispatch {
        key_provider,
        reflection_v1,
        reflection_v1alpha,
    };
    serve_and_drain("gRPC", listener, shutdown, |stop| GrpcConnections {
        dispatch,
        in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        stop,
    })
    .await;
    Ok(())
}
