"""Type aliases for ids so signatures read like prose."""

from typing import NewType

UserId = NewType("UserId", int)
TeamId = NewType("TeamId", int)
CustomerId = NewType("CustomerId", int)
IdentityId = NewType("IdentityId", int)
CaseId = NewType("CaseId", int)
ContactId = NewType("ContactId", int)
MessageId = NewType("MessageId", int)
QueueId = NewType("QueueId", int)
OfferId = NewType("OfferId", int)
EntryPointId = NewType("EntryPointId", int)
DispositionId = NewType("DispositionId", int)
