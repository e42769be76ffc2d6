//! The name each command is written under in the audit log.
//!
//! One exhaustive match, apart so that adding a command shows here as a compile error.

use super::Command;

impl Command {
    /// The name written to the audit log.
    pub fn name(&self) -> &'static str {
        match self {
            Self::CreateProperty { .. } => "property.create",
            Self::CreateRoomType { .. } => "room_type.create",
            Self::CreateRoom { .. } => "room.create",
            Self::SetOutOfOrder { .. } => "room.out_of_order",
            Self::ClearOutOfOrder { .. } => "room.back_in_service",
            Self::SetRoomStatus { .. } => "room.status",
            Self::SetRate { .. } => "rate.set",
            Self::PutRatePlan { .. } => "rate_plan.put",
            Self::CreateGuest { .. } => "guest.create",
            Self::UpdateGuest { .. } => "guest.update",
            Self::MergeGuests { .. } => "guest.merge",
            Self::EraseGuest { .. } => "guest.erase",
            Self::AnonymiseGuestBookings { .. } => "guest.anonymise",
            Self::CreateBooking { .. } => "booking.create",
            Self::CreateReservation { .. } => "reservation.create",
            Self::PutAgent { .. } => "agent.put",
            Self::AddReservationLine { .. } => "reservation.add_line",
            Self::EditBooking { .. } => "booking.edit",
            Self::ConfirmBooking { .. } => "booking.confirm",
            Self::CancelBooking { .. } => "booking.cancel",
            Self::CheckIn { .. } => "booking.check_in",
            Self::CheckOut { .. } => "booking.check_out",
            Self::NoShow { .. } => "booking.no_show",
            Self::AssignRoom { .. } => "booking.assign_room",
            Self::MoveRoom { .. } => "booking.move_room",
            Self::ExpireHolds => "booking.expire_holds",
            Self::CreateUser { .. } => "user.create",
            Self::GrantMaster { .. } => "master.grant",
            Self::TakeOver { .. } => "master.takeover",
            Self::AddNote { .. } => "note.add",
            Self::RestoreRecord { .. } => "conflict.apply",
            Self::GrantAllotment { .. } => "allotment.grant",
            Self::RunAllotmentRule { .. } => "allotment.rule",
            Self::TransferOwnership { .. } => "record.transfer",
            Self::ImportCopy { .. } => "record.import_copy",
            Self::DeleteRecord { .. } => "record.delete",
            Self::DeleteCopy { .. } => "record.delete_copy",
            Self::PostCharge(_) => "folio.charge",
            Self::TakePayment(_) => "folio.payment",
            Self::CorrectEntry { .. } => "folio.correction",
            Self::TransferBetweenFolios { .. } => "folio.transfer",
            Self::SetChargeCatalog { .. } => "catalog.set",
            Self::IssueInvoice { .. } => "invoice.issue",
            Self::IssueCreditNote { .. } => "invoice.credit_note",
            Self::RunNightAudit { .. } => "night_audit.run",
            Self::CancelWithFee { .. } => "booking.cancel_with_fee",
            Self::SettleDeposits { .. } => "deposit.settle",
            Self::PostPmsCharge { .. } => "folio.pms_charge",
        }
    }
}
