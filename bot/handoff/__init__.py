"""The handoff service's core: working days, deadlines, ticket ids, TicketService, Rasa client, delivery."""
