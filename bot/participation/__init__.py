"""Public participation: drafts out for comment (征求意见/调研) and information-disclosure
requests (依申请公开), each with its legal clock on the official working-day calendar.

Domain code only: views live in ``bot.web.consultations`` / ``bot.web.disclosure``,
chat in ``bot.handlers.participation``.
"""
