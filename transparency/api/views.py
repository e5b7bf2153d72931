"""The log's read API: C2SP static endpoints under /log/ and JSON under /v1/log/.

Both are public (auditors and monitors need no account) and answer only for the tree of the
served checkpoint (the latest, or with a witness quorum the newest that meets it:
``selectors.checkpoint_served``); only a number's label (``/v1/log/labels/{number}``) needs an
API key. Full tiles and entry bundles never change, so they are cacheable forever.
``/log/witness-policy`` is the witness policy served checkpoints meet, for clients to pin.

With a read replica, tiles, entries, proofs and labels take their rows from it
(``core.read_replica``; what it lacks yet is asked of the primary), and every answer is for
the primary's served checkpoint, which the checkpoint endpoints read there too: no client is
ever shown a tree older than one it saw.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.numbers import NumberInvalid, NumberMalformed, number_parse
from core.problems import Problem
from core.read_replica import served_from_replica
from core.schema import problem
from core.throttling import (
    ClientIpRateThrottle,
    LogReadRateThrottle,
    LookupDistinctRateThrottle,
)
from providers.permissions import LookupScope
from resolution.protocol import vrf
from resolution.protocol.tiles import (
    TILE_WIDTH,
    TileError,
    TilePathError,
    parse_tile_path,
    tile_width,
)
from transparency import selectors
from transparency.api import serializers as s
from transparency.keys import log_keys
from transparency.labels import number_label
from transparency.witnesses import policy_served

IMMUTABLE = "public, max-age=31536000, immutable"
PARTIAL = "public, max-age=60"
CHECKPOINT_CACHE = "public, max-age=1, must-revalidate"


class LogEmpty(Problem):
    slug = "log-empty"
    title = "The log has no checkpoint yet"
    status_code = 404


class LogRange(Problem):
    slug = "log-range"
    title = "Outside the log"
    status_code = 400


def _served() -> selectors.ServedCheckpoint:
    checkpoint = selectors.checkpoint_served()
    if checkpoint is None:
        if selectors.checkpoint_latest() is not None:
            raise LogEmpty("No checkpoint has been cosigned by the witness policy's quorum yet.")
        raise LogEmpty("No entry has been integrated yet.")
    return checkpoint


# What reading a replica that has not replayed the newest rows yet raises (core.read_replica): the
# read is then run again on the primary.
REPLICA_MISSES = (
    selectors.LogRangeError,
    TileError,
    ObjectDoesNotExist,
    NotFound,
    LogRange,
)


class _PublicLogView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [ClientIpRateThrottle]


def _query(serializer_class: type[Any], request: Request) -> dict[str, Any]:
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return dict(query.validated_data)


# --- C2SP static API (/log/) --------------------------------------------------------------


class StaticCheckpointApi(_PublicLogView):
    """The served checkpoint (C2SP tlog-checkpoint in a signed note), with its cosignatures."""

    throttle_classes = [LogReadRateThrottle]

    @extend_schema(
        operation_id="log_static_checkpoint",
        responses={(200, "text/plain"): OpenApiTypes.STR, 404: problem(LogEmpty)},
    )
    def get(self, request: Request) -> HttpResponse:
        response = HttpResponse(_served().note, content_type="text/plain; charset=utf-8")
        response["Cache-Control"] = CHECKPOINT_CACHE
        return response


class TileApi(_PublicLogView):
    """Hash tiles and entry bundles (C2SP tlog-tiles), for the served checkpoint's tree."""

    throttle_classes = [LogReadRateThrottle]

    @extend_schema(
        operation_id="log_tile",
        parameters=[
            OpenApiParameter("path", str, OpenApiParameter.PATH, description="e.g. 0/x001/234.p/7")
        ],
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            404: problem("not-found", note="Not in the tree (yet), or not a tile path."),
        },
    )
    @served_from_replica(*REPLICA_MISSES)
    def get(self, request: Request, path: str) -> HttpResponse:
        try:
            ref = parse_tile_path("tile/" + path)
        except TilePathError as error:
            raise NotFound(f"Not a tile path: {error}") from error
        size = selectors.tree_size()
        have = tile_width(ref.level, ref.index, size)
        want = ref.width or TILE_WIDTH
        if have < want:
            raise NotFound(f"tile/{path} is not in the tree of size {size}.")
        # A partial tile stays available after its tile grows (it is the wider one's prefix),
        # so a client holding an older checkpoint can still verify against it.
        if ref.is_entries:
            data = selectors.entry_bundle(index=ref.index, width=want)
        else:
            key = (ref.level, ref.index, want)
            found = selectors.hash_tiles([key])
            if key not in found:
                raise NotFound(f"tile/{path} is not stored.")
            data = found[key]
        response = HttpResponse(data, content_type="application/octet-stream")
        response["Cache-Control"] = IMMUTABLE if ref.width is None else PARTIAL
        return response


class LogKeyApi(_PublicLogView):
    """The log's public keys: the checkpoint verifier key, the VRF key for number labels, and
    the verifier key of its promises of inclusion."""

    @extend_schema(operation_id="log_key", responses={200: s.LogKeyOutput})
    def get(self, request: Request) -> Response:
        keys = log_keys()
        return Response(
            s.LogKeyOutput(
                {
                    "origin": keys.signer.name,
                    "note_verifier_key": keys.note_verifier_key,
                    "vrf_suite": vrf.SUITE_NAME,
                    "vrf_public_key": keys.vrf_public_key,
                    "promise_verifier_key": keys.promise_verifier_key,
                }
            ).data
        )


class WitnessPolicyApi(_PublicLogView):
    """The witness policy (C2SP / Sigsum policy text) that served checkpoints meet: a ``log``
    line for the log's key, each witness with its URL, the groups and the quorum (``quorum
    none`` when the log has no witnesses). Clients pin it, as they pin the log's keys."""

    throttle_classes = [LogReadRateThrottle]

    @extend_schema(
        operation_id="log_witness_policy",
        responses={(200, "text/plain"): OpenApiTypes.STR},
    )
    def get(self, request: Request) -> HttpResponse:
        log_url = request.build_absolute_uri(reverse("log-key")).removesuffix("key")
        text = policy_served(log_vkey=log_keys().note_verifier_key, log_url=log_url)
        response = HttpResponse(text, content_type="text/plain; charset=utf-8")
        response["Cache-Control"] = PARTIAL
        return response


# --- JSON API (/v1/log/) --------------------------------------------------------------------


class CheckpointApi(_PublicLogView):
    """The served checkpoint, parsed, with its signed note and cosignatures."""

    @extend_schema(
        operation_id="log_checkpoint",
        responses={
            200: s.CheckpointOutput,
            404: problem(LogEmpty, note="Empty log, or nothing cosigned yet."),
        },
    )
    def get(self, request: Request) -> Response:
        checkpoint = _served()
        output = {
            "origin": log_keys().signer.name,
            "size": checkpoint.size,
            "root_hash": checkpoint.root_hash,
            "note": checkpoint.note,
            "cosignatures": checkpoint.cosignatures,
            "created_at": checkpoint.created_at,
        }
        return Response(s.CheckpointOutput(output).data)


class EntriesApi(_PublicLogView):
    """Entries ``start <= index < end`` (at most 1000) of the latest checkpoint's tree."""

    @extend_schema(
        operation_id="log_entries",
        parameters=[s.EntriesQuery],
        responses={200: s.EntriesOutput, 400: problem("validation-error", LogRange)},
    )
    @served_from_replica(*REPLICA_MISSES)
    def get(self, request: Request) -> Response:
        query = _query(s.EntriesQuery, request)
        size = selectors.tree_size()
        if query["start"] >= size:
            raise LogRange(f"start={query['start']} is beyond the tree (size {size}).")
        end = min(query["end"], size)
        output = {
            "start": query["start"],
            "end": end,
            "size": size,
            "next": end if end < size else None,
            "entries": selectors.entries_range(start=query["start"], end=end),
        }
        return Response(s.EntriesOutput(output).data)


class InclusionProofApi(_PublicLogView):
    """RFC 9162 inclusion proof of an entry, by index or by leaf hash."""

    @extend_schema(
        operation_id="log_inclusion_proof",
        parameters=[s.InclusionQuery],
        responses={
            200: s.InclusionOutput,
            400: problem("validation-error", LogRange),
            404: problem("not-found", note="No entry with this leaf hash."),
        },
    )
    @served_from_replica(*REPLICA_MISSES)
    def get(self, request: Request) -> Response:
        query = _query(s.InclusionQuery, request)
        size = query.get("size")
        index = query.get("index")
        if index is None:
            bound = selectors.tree_size() if size is None else size
            index = selectors.entry_index_by_leaf_hash(leaf_hash=query["leaf_hash"], size=bound)
            if index is None:
                raise NotFound(f"No entry with this leaf hash in the tree of size {bound}.")
        try:
            size, proof = selectors.inclusion_proof(index=index, size=size)
        except selectors.LogRangeError as error:
            raise LogRange(str(error)) from error
        leaf = query.get("leaf_hash") or selectors.leaf_hash_at(index=index)
        output = {
            "index": index,
            "size": size,
            "leaf_hash": leaf,
            "proof": proof,
        }
        return Response(s.InclusionOutput(output).data)


class ConsistencyProofApi(_PublicLogView):
    """RFC 9162 consistency proof between two tree sizes."""

    @extend_schema(
        operation_id="log_consistency_proof",
        parameters=[s.ConsistencyQuery],
        responses={200: s.ConsistencyOutput, 400: problem("validation-error", LogRange)},
    )
    @served_from_replica(*REPLICA_MISSES)
    def get(self, request: Request) -> Response:
        query = _query(s.ConsistencyQuery, request)
        try:
            new, proof = selectors.consistency_proof(old=query["from"], new=query.get("to"))
        except selectors.LogRangeError as error:
            raise LogRange(str(error)) from error
        output = {"from": query["from"], "to": new, "proof": proof}
        return Response(s.ConsistencyOutput(output).data)


class LabelApi(APIView):
    """A number's label, to find its entries in the log (as its holder's monitor does), and the
    VRF proof that the label is this number's: check it with ``resolution.protocol.vrf.verify``.

    Authenticated and throttled like lookups: a label is what ties log entries to a number.
    """

    permission_classes = [LookupScope]
    throttle_classes = [*APIView.throttle_classes, LookupDistinctRateThrottle]

    @extend_schema(
        operation_id="log_label",
        responses={
            200: s.LabelOutput,
            400: problem(NumberMalformed, NumberInvalid),
        },
    )
    @served_from_replica()
    def get(self, request: Request, number: str) -> Response:
        e164 = number_parse(number).e164
        return Response(s.LabelOutput({"number": e164, "label": number_label(e164)}).data)
