"""SMPP 3.4 wire values, documented from the specification (Issue 1.2, 12-Oct-1999).

Section numbers refer to that document. Everything here is an ``IntEnum`` or ``IntFlag`` so that values
compare equal to the raw integers found on the wire while printing with their names.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

#: §5.1.2.1: a response's command_id is its request's with the top bit set (generic_nack is the bit
#: alone). The one spelling of that bit: test ``command_id & RESPONSE_BIT``, map a request to its
#: response with ``| RESPONSE_BIT`` and a response to its request with ``^ RESPONSE_BIT``.
RESPONSE_BIT = 0x80000000

#: §3.2: every PDU starts with a header of four Integer(4) fields, big-endian, in this order; these are
#: their offsets in a frame.
COMMAND_LENGTH_AT = 0
COMMAND_ID_AT = COMMAND_LENGTH_AT + 4
COMMAND_STATUS_AT = COMMAND_ID_AT + 4
SEQUENCE_NUMBER_AT = COMMAND_STATUS_AT + 4
#: The header is 16 octets; the body follows.
HEADER_SIZE = SEQUENCE_NUMBER_AT + 4
#: RESPONSE_BIT as it shows in command_id's first (most significant) octet, ``frame[COMMAND_ID_AT]``:
#: tells a response from a request without unpacking the header.
RESPONSE_BIT_OCTET = RESPONSE_BIT >> 24
#: §3.2.4.1: a TLV starts with its tag and its value's length, an Integer(2) each.
TLV_HEADER_SIZE = 4
#: Sequence numbers run 0x00000001..0x7FFFFFFF (§3.2) and wrap.
MAX_SEQUENCE = 0x7FFFFFFF


class CommandId(IntEnum):
    """command_id values, §5.1.2.1."""

    #: §4.12 — negative acknowledgement for a PDU whose header is invalid.
    GENERIC_NACK = 0x80000000
    #: §4.1.3 — bind as a receiver (SMSC to ESME messages only).
    BIND_RECEIVER = 0x00000001
    BIND_RECEIVER_RESP = 0x80000001
    #: §4.1.1 — bind as a transmitter (ESME to SMSC messages only).
    BIND_TRANSMITTER = 0x00000002
    BIND_TRANSMITTER_RESP = 0x80000002
    #: §4.8 — query the state of a submitted message.
    QUERY_SM = 0x00000003
    QUERY_SM_RESP = 0x80000003
    #: §4.4 — submit a short message for onward delivery.
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    #: §4.6 — SMSC delivers a message (MO or delivery receipt) to the ESME.
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    #: §4.2 — end the session.
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    #: §4.10 — replace a previously submitted message.
    REPLACE_SM = 0x00000007
    REPLACE_SM_RESP = 0x80000007
    #: §4.9 — cancel a previously submitted message.
    CANCEL_SM = 0x00000008
    CANCEL_SM_RESP = 0x80000008
    #: §4.1.5 — bind as a transceiver (both directions).
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    #: §4.1.7 — SMSC asks the ESME to bind as a receiver.
    OUTBIND = 0x0000000B
    #: §4.11 — link keep-alive.
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015
    #: §4.5 — submit to several destinations.
    SUBMIT_MULTI = 0x00000021
    SUBMIT_MULTI_RESP = 0x80000021
    #: §4.12 — SMSC tells the ESME a subscriber is reachable again.
    ALERT_NOTIFICATION = 0x00000102
    #: §4.7 — interactive message exchange, either direction.
    DATA_SM = 0x00000103
    DATA_SM_RESP = 0x80000103

    @property
    def is_response(self) -> bool:
        return bool(self & RESPONSE_BIT)

    @property
    def response_id(self) -> CommandId:
        """The command_id of the response to this request (§5.1.2.1)."""
        return CommandId(self | RESPONSE_BIT)

    @property
    def has_response(self) -> bool:
        """Requests that are answered: all but outbind, alert_notification and generic_nack."""
        return not self.is_response and self not in (
            CommandId.OUTBIND,
            CommandId.ALERT_NOTIFICATION,
        )


BIND_COMMANDS = frozenset({CommandId.BIND_RECEIVER, CommandId.BIND_TRANSMITTER, CommandId.BIND_TRANSCEIVER})


class CommandStatus(IntEnum):
    """command_status error codes, §5.1.3. 0x400-0x4FF is reserved for SMSC vendors."""

    #: No error.
    ESME_ROK = 0x00000000
    #: Message length is invalid.
    ESME_RINVMSGLEN = 0x00000001
    #: Command length is invalid.
    ESME_RINVCMDLEN = 0x00000002
    #: Invalid command id.
    ESME_RINVCMDID = 0x00000003
    #: Incorrect bind status for given command.
    ESME_RINVBNDSTS = 0x00000004
    #: ESME already in bound state.
    ESME_RALYBND = 0x00000005
    #: Invalid priority flag.
    ESME_RINVPRTFLG = 0x00000006
    #: Invalid registered delivery flag.
    ESME_RINVREGDLVFLG = 0x00000007
    #: System error.
    ESME_RSYSERR = 0x00000008
    #: Invalid source address.
    ESME_RINVSRCADR = 0x0000000A
    #: Invalid destination address.
    ESME_RINVDSTADR = 0x0000000B
    #: Message id is invalid.
    ESME_RINVMSGID = 0x0000000C
    #: Bind failed.
    ESME_RBINDFAIL = 0x0000000D
    #: Invalid password.
    ESME_RINVPASWD = 0x0000000E
    #: Invalid system id.
    ESME_RINVSYSID = 0x0000000F
    #: Cancel SM failed.
    ESME_RCANCELFAIL = 0x00000011
    #: Replace SM failed.
    ESME_RREPLACEFAIL = 0x00000013
    #: Message queue full.
    ESME_RMSGQFUL = 0x00000014
    #: Invalid service type.
    ESME_RINVSERTYP = 0x00000015
    #: Invalid number of destinations.
    ESME_RINVNUMDESTS = 0x00000033
    #: Invalid distribution list name.
    ESME_RINVDLNAME = 0x00000034
    #: Destination flag is invalid (submit_multi).
    ESME_RINVDESTFLAG = 0x00000040
    #: Invalid submit with replace request.
    ESME_RINVSUBREP = 0x00000042
    #: Invalid esm_class field data.
    ESME_RINVESMCLASS = 0x00000043
    #: Cannot submit to distribution list.
    ESME_RCNTSUBDL = 0x00000044
    #: submit_sm or submit_multi failed.
    ESME_RSUBMITFAIL = 0x00000045
    #: Invalid source address TON.
    ESME_RINVSRCTON = 0x00000048
    #: Invalid source address NPI.
    ESME_RINVSRCNPI = 0x00000049
    #: Invalid destination address TON.
    ESME_RINVDSTTON = 0x00000050
    #: Invalid destination address NPI.
    ESME_RINVDSTNPI = 0x00000051
    #: Invalid system_type field.
    ESME_RINVSYSTYP = 0x00000053
    #: Invalid replace_if_present flag.
    ESME_RINVREPFLAG = 0x00000054
    #: Invalid number of messages.
    ESME_RINVNUMMSGS = 0x00000055
    #: Throttling error (ESME has exceeded allowed message limits).
    ESME_RTHROTTLED = 0x00000058
    #: Invalid scheduled delivery time.
    ESME_RINVSCHED = 0x00000061
    #: Invalid message validity period (expiry time).
    ESME_RINVEXPIRY = 0x00000062
    #: Predefined message invalid or not found.
    ESME_RINVDFTMSGID = 0x00000063
    #: ESME receiver temporary app error code (the SMSC will redeliver).
    ESME_RX_T_APPN = 0x00000064
    #: ESME receiver permanent app error code.
    ESME_RX_P_APPN = 0x00000065
    #: ESME receiver reject message error code.
    ESME_RX_R_APPN = 0x00000066
    #: query_sm request failed.
    ESME_RQUERYFAIL = 0x00000067
    #: Error in the optional part of the PDU body.
    ESME_RINVOPTPARSTREAM = 0x000000C0
    #: Optional parameter not allowed.
    ESME_ROPTPARNOTALLWD = 0x000000C1
    #: Invalid parameter length.
    ESME_RINVPARLEN = 0x000000C2
    #: Expected optional parameter missing.
    ESME_RMISSINGOPTPARAM = 0x000000C3
    #: Invalid optional parameter value.
    ESME_RINVOPTPARAMVAL = 0x000000C4
    #: Delivery failure (data_sm_resp).
    ESME_RDELIVERYFAILURE = 0x000000FE
    #: Unknown error.
    ESME_RUNKNOWNERR = 0x000000FF
    #: Stopgate vendor code (§5.1.3 reserves 0x400-0x4FF for vendors): recipient has opted out.
    STOPGATE_OPTED_OUT = 0x00000400


#: Statuses after which a client usually retries the same message later.
RETRYABLE_STATUSES = frozenset(
    {
        CommandStatus.ESME_RSYSERR,
        CommandStatus.ESME_RMSGQFUL,
        CommandStatus.ESME_RTHROTTLED,
        CommandStatus.ESME_RX_T_APPN,  # Kannel retries it too (smsc_smpp.c)
    }
)


class Ton(IntEnum):
    """Type of Number, §5.2.5."""

    UNKNOWN = 0
    INTERNATIONAL = 1
    NATIONAL = 2
    NETWORK_SPECIFIC = 3
    SUBSCRIBER_NUMBER = 4
    ALPHANUMERIC = 5
    ABBREVIATED = 6


class Npi(IntEnum):
    """Numeric Plan Indicator, §5.2.6."""

    UNKNOWN = 0
    ISDN = 1  #: E.163/E.164
    DATA = 3  #: X.121
    TELEX = 4  #: F.69
    LAND_MOBILE = 6  #: E.212
    NATIONAL = 8
    PRIVATE = 9
    ERMES = 10
    INTERNET = 14  #: IP
    WAP_CLIENT_ID = 18


class DataCoding(IntEnum):
    """data_coding values, §5.2.19."""

    #: SMSC default alphabet; GSM 03.38 in practice, one septet per octet on SMPP.
    SMSC_DEFAULT = 0x00
    #: IA5 (CCITT T.50) / ASCII.
    IA5 = 0x01
    #: Octet unspecified (8-bit binary).
    BINARY = 0x02
    #: Latin 1 (ISO-8859-1).
    LATIN1 = 0x03
    #: Octet unspecified (8-bit binary).
    BINARY_8BIT = 0x04
    #: JIS (X 0208-1990).
    JIS = 0x05
    #: Cyrillic (ISO-8859-5).
    CYRILLIC = 0x06
    #: Latin/Hebrew (ISO-8859-8).
    HEBREW = 0x07
    #: UCS2 (ISO/IEC-10646); treated as UTF-16BE so surrogate pairs survive.
    UCS2 = 0x08
    #: Pictogram encoding.
    PICTOGRAM = 0x09
    #: ISO-2022-JP (music codes).
    ISO_2022_JP = 0x0A
    #: Extended Kanji JIS (X 0212-1990).
    KANJI_JIS = 0x0D
    #: KS C 5601.
    KSC5601 = 0x0E


class EsmClass(IntFlag):
    """esm_class bits, §5.2.12."""

    #: Bits 1-0: messaging mode (store-and-forward when 0).
    DATAGRAM_MODE = 0x01
    FORWARD_MODE = 0x02
    STORE_AND_FORWARD_MODE = 0x03
    #: Bits 5-2 on deliver_sm: message type.
    SMSC_DELIVERY_RECEIPT = 0x04
    SME_DELIVERY_ACK = 0x08
    SME_MANUAL_ACK = 0x10
    CONVERSATION_ABORT = 0x18
    INTERMEDIATE_NOTIFICATION = 0x20
    #: Bit 6: the short_message begins with a User Data Header.
    UDHI = 0x40
    #: Bit 7: reply path.
    REPLY_PATH = 0x80


#: Mask for the message-type bits 5-2 of esm_class.
ESM_MESSAGE_TYPE_MASK = 0x3C


class Tag(IntEnum):
    """Optional parameter (TLV) tags, §5.3.2."""

    DEST_ADDR_SUBUNIT = 0x0005
    DEST_NETWORK_TYPE = 0x0006
    DEST_BEARER_TYPE = 0x0007
    DEST_TELEMATICS_ID = 0x0008
    SOURCE_ADDR_SUBUNIT = 0x000D
    SOURCE_NETWORK_TYPE = 0x000E
    SOURCE_BEARER_TYPE = 0x000F
    SOURCE_TELEMATICS_ID = 0x0010
    QOS_TIME_TO_LIVE = 0x0017
    PAYLOAD_TYPE = 0x0019
    ADDITIONAL_STATUS_INFO_TEXT = 0x001D
    #: §5.3.2.12 — the SMSC message id a delivery receipt refers to.
    RECEIPTED_MESSAGE_ID = 0x001E
    MS_MSG_WAIT_FACILITIES = 0x0030
    PRIVACY_INDICATOR = 0x0201
    SOURCE_SUBADDRESS = 0x0202
    DEST_SUBADDRESS = 0x0203
    USER_MESSAGE_REFERENCE = 0x0204
    USER_RESPONSE_CODE = 0x0205
    SOURCE_PORT = 0x020A
    DESTINATION_PORT = 0x020B
    #: §5.3.2.22 — reference number of a concatenated message (2 octets).
    SAR_MSG_REF_NUM = 0x020C
    LANGUAGE_INDICATOR = 0x020D
    #: §5.3.2.23 — total segments (1 octet).
    SAR_TOTAL_SEGMENTS = 0x020E
    #: §5.3.2.24 — this segment's number, from 1 (1 octet).
    SAR_SEGMENT_SEQNUM = 0x020F
    #: §5.3.2.25 — on bind_resp: the SMSC's SMPP version.
    SC_INTERFACE_VERSION = 0x0210
    CALLBACK_NUM_PRES_IND = 0x0302
    CALLBACK_NUM_ATAG = 0x0303
    NUMBER_OF_MESSAGES = 0x0304
    CALLBACK_NUM = 0x0381
    DPF_RESULT = 0x0420
    SET_DPF = 0x0421
    MS_AVAILABILITY_STATUS = 0x0422
    #: §5.3.2.31 — network error code (3 octets).
    NETWORK_ERROR_CODE = 0x0423
    #: §5.3.2.32 — message text used instead of short_message.
    MESSAGE_PAYLOAD = 0x0424
    DELIVERY_FAILURE_REASON = 0x0425
    MORE_MESSAGES_TO_SEND = 0x0426
    #: §5.3.2.35 — final state of a message in a receipt.
    MESSAGE_STATE = 0x0427
    USSD_SERVICE_OP = 0x0501
    DISPLAY_TIME = 0x1201
    SMS_SIGNAL = 0x1203
    MS_VALIDITY = 0x1204
    ALERT_ON_MESSAGE_DELIVERY = 0x130C
    ITS_REPLY_TYPE = 0x1380
    ITS_SESSION_INFO = 0x1383


class MessageState(IntEnum):
    """message_state values, §5.2.28."""

    ENROUTE = 1
    DELIVERED = 2
    EXPIRED = 3
    DELETED = 4
    UNDELIVERABLE = 5
    ACCEPTED = 6
    UNKNOWN = 7
    REJECTED = 8


class BindMode(IntEnum):
    """How a session is bound; the value is the bind request's command_id."""

    RECEIVER = CommandId.BIND_RECEIVER
    TRANSMITTER = CommandId.BIND_TRANSMITTER
    TRANSCEIVER = CommandId.BIND_TRANSCEIVER

    @property
    def can_transmit(self) -> bool:
        return self is not BindMode.RECEIVER

    @property
    def can_receive(self) -> bool:
        return self is not BindMode.TRANSMITTER


#: §5.2.4: interface_version 0x34 means SMPP 3.4.
SMPP_VERSION_34 = 0x34
