"""Synthetic messy customer-support messages with exact, rule-derived labels.

Why synthetic: we need many labelled messages whose labels are *decidable from the text*, plus a
template-disjoint split (test phrasings never seen in training) to measure generalisation rather than
memorisation. Every message is built from one core phrasing template (``template`` id, e.g.
``"REFUND/07"``) and shared noise pools (greetings, sign-offs, distractor numbers, urgency cues,
typos, casing), so the caller splits on template ids and the pools act as realistic clutter.

Label rules (the same text lives in README.md; :func:`rule_urgency` implements the urgency part):

intent
    The single action the customer asks for. Venting, praise, background and asides introduced by
    "P.S." / "also" / "btw" do not change the label; the main request does. Specific boundaries:
    asking where/when an order is -> ORDER_STATUS, reporting a delivery failure (lost, damaged,
    missing or wrong items, wrong address, "delivered" but not received, past the promised date)
    -> DELIVERY_ISSUE; sending an item back or exchanging it -> RETURN, asking for money back or
    refund progress -> REFUND; stopping an unshipped order (even if a refund is mentioned) ->
    CANCEL_ORDER; modifying an open order (address, size, quantity, delivery date) -> CHANGE_ORDER;
    login, profile, data, e-mail preferences -> ACCOUNT; pre-purchase questions about products,
    stock, price or shipping options -> PRODUCT_INFO; dissatisfaction with no concrete request
    covered above -> COMPLAINT; anything needing no support action (store hours, jobs, press,
    partnerships, spam, praise, wrong recipient, suggestions) -> OTHER.

urgency (first matching rule wins)
    HIGH   - any HIGH cue: urgent/urgently (not "not urgent"/"nothing urgent"), ASAP, as soon as
             possible, immediately, right away, emergency, today, tonight, charged twice / double
             charged, fraud, unauthorised/unauthorized, hacked, locked out, chargeback, dispute,
             legal action, or shouting (three consecutive words in capitals).
    LOW    - an explicit no-rush cue (no rush, no hurry, not in a hurry, not urgent, nothing urgent,
             just curious, take your time, whenever you..., when you get a chance / have a moment,
             at your convenience, low priority, no pressure), or an information-only message
             (PRODUCT_INFO, general policy questions, and OTHER messages needing no action).
    MEDIUM - everything else.

order_id
    The identifier the customer gives for their order (introduced as order / order number / no. /
    ref / confirmation / purchase, a '#'-prefixed number, or "it's X btw"), copied exactly as
    written (case and dashes kept) without a leading '#'; null when there is none. Tracking
    numbers, SKUs and model numbers, prices, dates, phone numbers, zip codes, invoice and customer
    numbers and discount codes are never order ids.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from jsontune.schema import canonical, is_valid, load_schema, schema_errors

SCHEMA_PATH = Path(__file__).with_name("schema.json")
SCHEMA: dict[str, Any] = load_schema(SCHEMA_PATH)
INTENTS: tuple[str, ...] = tuple(SCHEMA["properties"]["intent"]["enum"])
URGENCIES: tuple[str, ...] = tuple(SCHEMA["properties"]["urgency"]["enum"])

HIGH_CUE_RE = re.compile(
    r"(?<!not )(?<!nothing )\burgent(?:ly)?\b|\basap\b|\bas soon as possible\b|\bimmediately\b"
    r"|\bright away\b|\bemergency\b|\btoday\b|\btonight\b|\bcharged (?:me )?twice\b|\bdouble[- ]charged\b"
    r"|\bfraud\w*|\bunauthori[sz]ed\b|\bhacked\b|\blocked out\b|\bchargeback\b|\bdispute\b|\blegal action\b",
    re.IGNORECASE,
)
LOW_CUE_RE = re.compile(
    r"\bno rush\b|\bno hurry\b|\bnot in a hurry\b|\bnot urgent\b|\bnothing urgent\b|\bjust curious\b"
    r"|\btake your time\b|\bwhenever you\b|\bwhen you (?:get a chance|have a (?:moment|minute))\b"
    r"|\bat your convenience\b|\blow priority\b|\bno pressure\b",
    re.IGNORECASE,
)
_SHOUT_TOKEN_RE = re.compile(r"^[A-Z][A-Z']*[A-Z][.,!?:;]*$")
SHOUT_RUN = 3

# Template markers. Information-only messages are LOW unless a HIGH cue is added; angry ones never get a
# no-rush cue ("I'm done waiting. No rush." would contradict itself).
_INFO = "[info] "
_ANGRY = "[angry] "

_TEMPLATES: dict[str, list[str]] = {
    "ORDER_STATUS": [
        "Where is {order}? I ordered it {date} and haven't heard anything since.",
        "Hi, could you tell me when {order} will ship?",
        "any update on {order}??",
        "I placed {order} {date} and the status still says processing. When can I expect it?",
        "Can you check the status of {order} for me please?",
        "has {order} shipped yet or is it still sitting in the warehouse",
        "I ordered {product} {date} and still have no tracking number. Could you let me know where "
        "{order} is?",
        "Just checking in on {order} - is it still on track to arrive this week?",
        "When will {product} be dispatched? It's part of {order}.",
        "My account says {order} is 'confirmed' but nothing else has happened. Is it actually being "
        "processed?",
        "Hello, I'm wondering about the estimated delivery date for {order}.",
        "Ordered {product} {date}. Is there any way to see where it is at the moment?",
        "status of {order}?",
        "Can you tell me which courier is handling {order}? I'd like to follow it myself.",
        "Quick question: has {order} left your warehouse yet? The confirmation email didn't say.",
        "Can I get an ETA on {order}? I want to know if I should be home to sign for it.",
        "I got the order confirmation for {order} but never got a shipping email. Did it go out?",
        "so i ordered {product} for my brother and he keeps asking me when it comes, any idea when {order} "
        "will be delivered",
        "Roughly what day should I expect {order} to turn up?",
        "when does {order} get here",
        "Has anyone actually packed {order} yet, or is it still waiting for stock to come in?",
        "I'll be away from {date_future}, so I'd like to know whether {order} will reach me before then.",
        "I don't normally chase these things, but {product} is meant to be a surprise for {person} and I'd like "
        "to plan around it. Could you let me know roughly when {order} will be handed to the courier?",
        "Which day is {order} scheduled to go out? The site just says 'preparing'.",
        "What stage is {order} at right now?",
        "Do you know if {order} is likely to come in the morning or the afternoon?",
        "hi just wondering if {order} went out yet",
        "Can you confirm that {order} has been passed to the courier? I'd like to know it's on the way.",
        "Me again about {order}. Is there a rough date I should pencil in for delivery?",
        "The confirmation for {order} mentioned a 3-5 day window. Which end of that is it looking like?",
        "can u check where {order} is at pls",
        "My {noun} from {order} - dispatched or not yet?",
        "We ordered a few bits for the office and the team keeps asking me when they'll land. Any news on "
        "{order}?",
        "Just placed {order} - what's the usual turnaround before it leaves you?",
        "Good day. I make {order} {date} and until now I have no information about the sending. Please inform me on "
        "which date it will arrive.",
        "tracking 4 {order} just says label created?? has it actually gone or nah",
        "Further to {order}, placed {date}, please advise the anticipated delivery date so that we can schedule "
        "receipt at our goods-in bay.",
        "I was hoping someone there could tell me how far along {order} is.",
        "I can't tell from the website whether {order} has been posted yet or not.",
        "We're doing up the spare room and I've booked a day off to put {flatpack} together when it comes. Is there an "
        "expected delivery day for {order} yet?",
        "wanna know when my stuff from {order} is coming, that's all",
        "Would you mind resending the tracking link for {order}? I deleted the shipping email by accident.",
        "I bought {product} on pre-order. Has a dispatch date been set for {order} yet?",
        "The email for {order} said it would come in two parcels. The first one is here - is the second on its way "
        "yet?",
        "My daughter has been checking the door every morning since we ordered {product} for her room, convinced the "
        "parcel is coming any minute. I'd love to give her a real answer - when is {order} expected?",
        "how much longer for {order}?",
        "Please I want to know the situation of {order}, I buy it {date} and still no news.",
        "Is there any chance {order} arrives before the weekend, or is it more likely to be next week?",
        "{person} ordered something from you for me and told me to ask you when it's arriving. I'm the recipient, not "
        "the buyer.",
        "Is {order} being shipped from abroad? I'm trying to work out how long I'll be waiting.",
    ],
    "CANCEL_ORDER": [
        "Please cancel {order}. I ordered the wrong size.",
        "I need to cancel {order} before it ships, I found {product} cheaper elsewhere.",
        "cancel {order} pls",
        "Hi, I changed my mind about {product}. Can you cancel {order} and confirm by email?",
        "Is it too late to cancel {order}? I placed it {date} by mistake.",
        "My son ordered {product} on my account without asking. Please cancel {order}, I don't want it.",
        "I'd like to cancel {order}. It hasn't shipped yet according to the website.",
        "Please stop {order} from being sent, I no longer need it.",
        "I accidentally placed the same order twice. Please cancel {order} and keep the other one.",
        "Can I still cancel? I ordered {product} {date} and I won't be home for the delivery.",
        _ANGRY + "Cancel {order}. I've waited {days} for it to ship and I'm done waiting.",
        "Hello, please cancel the whole of {order}, we ordered from the wrong account.",
        _ANGRY + "Don't ship {order}! I want to cancel it.",
        "i want to cancel {order} and get the money back on {pay}",
        "Could you please cancel {order}? A delivery estimate of {days} is too long for me.",
        "How do I cancel {order}? I can't find a button for it anywhere in my account.",
        "We no longer need {product} for the office. Kindly cancel {order} and send a confirmation.",
        "hey please kill {order}, ordered it by accident after a glass of wine",
        "Please don't process {order}, I'd like to call the whole thing off.",
        "Hi, I need to withdraw {order}. My circumstances have changed and I can't afford it right now.",
        "scrap {order} pls, not needed anymore",
        "Ordered {product} {date} by mistake while comparing models - can you void {order} before it leaves the "
        "warehouse?",
        "The party we bought this for has been called off, so {order} isn't needed. Please cancel it before it "
        "goes out.",
        "I'd like to back out of {order}. Is that still doable while it says 'processing'?",
        "Long story: I bought {product} as a gift, but it turns out {person} already got one from someone else. "
        "As nothing has shipped yet, could you cancel {order} and let me know once it's done?",
        "Please cancel every item on {order}, all {qty} of them.",
        "My workplace just handed out {product} to everyone for free, so {order} is no longer necessary. Can it "
        "be cancelled before dispatch?",
        "I've had second thoughts about {order}, please cancel it while you still can.",
        "Can you halt {order}? I'm no longer moving into the new flat so I don't need it.",
        "ok so I want out of {order}, can u cancel",
        "Our company has frozen all spending for the quarter. I've been asked to cancel {order}, which we placed "
        "{date}. Please confirm it won't be dispatched.",
        "Is {order} cancellable? I'd rather not receive it at all.",
        "My partner and I both ordered {product} without telling each other. Please cancel {order} - one is "
        "plenty.",
        "I'd like to revoke {order}. Please make sure the courier doesn't pick it up.",
        "Hello, please I want to cancel {order}. My husband already buy the same thing in the shop, so we don't need "
        "it.",
        "nvm about {order}, dont want it anymore, can u cancel b4 it ships",
        "Please treat this message as formal notice that I wish to cancel {order} in its entirety. Kindly confirm in "
        "writing that no goods will be dispatched.",
        "I was wondering if {order} could still be cancelled - I've just realised I already have {product} at home.",
        "On reflection I'd rather {order} didn't go ahead. Please consider it cancelled.",
        "We've had a burst pipe and the whole ground floor is being stripped out, so there's nowhere to put {flatpack} "
        "for months. Can {order} be cancelled before it leaves?",
        "Can you pull {order} before it goes out? Plans have changed and I won't be needing it.",
        "I checked out as a guest, so {order} doesn't show in any account and I can't cancel it myself. Could you do "
        "it for me?",
        "The delivery charge on {order} turned out to be more than I'd realised, so I'd like to cancel rather than go "
        "ahead with it.",
        "Sorry for my english. I order {gadget} {date} but now I find it can not be used in my country. Please cancel "
        "{order}, I think it is not sent yet.",
        "{order} - cancel, thanks",
        "I had a bit of a spending spree last weekend and, looking at my bank balance now, I need to rein it in. Could "
        "you cancel {order}? It's the one I can most easily live without.",
        "I'm writing on behalf of my elderly father, who placed {order} by mistake while he was only trying to look at "
        "prices. Could you cancel it for him?",
        "If {order} hasn't gone yet, please don't send it - I want to cancel.",
        "Turns out my student halls don't allow the kind of thing I ordered, so please cancel {order} before it ships.",
        "ugh I need to undo {order}, can someone cancel it for me",
    ],
    "CHANGE_ORDER": [
        "Can I change the shipping address on {order}? I'm moving to {address}.",
        "I ordered {apparel} in the wrong size. Could you change it to {size} before {order} ships?",
        "Please update the delivery address for {order} to {address}.",
        "Is it possible to add a second {noun} to {order}? I forgot my sister wanted one too.",
        "I typed my apartment number wrong on {order}. It should be {apt}, not {apt2}.",
        "change colour on {order} from {color} to {color2} pls",
        "Could you switch {order} to express shipping? Happy to pay the difference.",
        "I need to swap {apparel} in {order} for {size} instead, if it hasn't been packed yet.",
        "Can you remove {product} from {order}? I'll keep the rest.",
        "Please move the delivery of {order} to {date_future}, we're away until then.",
        "I'd like to change the recipient on {order} - it's a gift and should go to {person} instead.",
        "Wrong phone number on {order}, the right one is {phone}.",
        "Would it be possible to combine {order} with the one I placed yesterday so they ship together?",
        "Can you reduce the quantity on {order} from {qty_big} to {qty_small}?",
        "Please send {order} to my office instead of my home: {address}.",
        "Could you gift-wrap {order} and add a card that says Happy Birthday Nana?",
        "Hi, I'd like to upgrade {product} in {order} to the bigger model. Is that still possible?",
        "I'll be staying at {address} for a while, so please redirect {order} there before it ships.",
        "I picked {color} for the {noun} on {order} but really wanted {color2}. Can you swap that before it's "
        "packed?",
        "Can you bump the quantity of {product} on {order} up to {qty}?",
        "I made a typo in the postcode on {order}, please correct it to {zip} before it goes out.",
        "Please hold {order} until {date_future} - nobody will be around to receive it before that.",
        "Can you change the delivery on {order} to click and collect at {store}?",
        "{order} is going straight to my aunt, so please leave the prices off and pop a gift note in.",
        "Could {order} go out by standard post instead of express? I'd rather not pay extra.",
        "Mind adding {product} to {order} so it all comes in one parcel?",
        "The name on {order} is misspelt - please correct it to {name}.",
        "Bit of a muddle on my end: I ordered {product} for our new flat, but we've now been told the move is "
        "delayed. Would it be possible to keep {order} open and send it to {address} instead?",
        "swap the {variant} for the {variant2} on {order}, if it hasn't gone out yet",
        "Please add delivery instructions to {order}: leave it with the neighbour in {apt} if no one answers.",
        "Could you split {order} so {product} ships now and the rest follows when it's in stock?",
        "Hi, our office is closed on {weekday}, so could {order} be delivered on a different day?",
        "Could you add the extended warranty to {order}? I forgot to tick the box at checkout.",
        "Hello, in {order} I choose {size} but I need one size bigger. Is possible to change before you send?",
        "can u change the engraving on {order}? should say {name} not {name2}",
        "I should be grateful if you would amend {order} to a revised quantity of {qty_big} units, in line with our "
        "updated requirements.",
        "I was hoping I could still add a gift receipt to {order} before it's packed.",
        "I'd rather {order} came in the evening than during the day, if that can still be arranged.",
        "We ordered the nursery things before the last scan, and the colour scheme we'd picked won't work now. Could "
        "you switch everything on {order} from {color} to {color2}?",
        "Is it too late to tweak the delivery note on {order}? The gate code has changed since I placed it.",
        "Before {order} is packed, could you take out {product} and put {product2} in its place?",
        "Sorry, I write the wrong street when I make {order}. The correct one is {address}, please change it before "
        "sending.",
        "{order}: can the size be {size} instead of {size2}? not sent yet i hope",
        "So I placed {order} in a rush on my lunch break and only later noticed it's set to go to my old flat - the "
        "app still had it saved. I've since moved to {address}. Would you be able to update it before it goes out?",
        "The gift message on {order} has a typo. Could it read 'Happy anniversary, love {name}' instead?",
        "Could {order} be brought forward? We've moved our trip and now leave around {date_future}, so I'd like it "
        "before then.",
        "Please take the gift wrapping off {order} - turns out it's for me after all.",
        "Could you send {order} to a parcel locker rather than to my door? Nobody's home in the day.",
        "Kindly note the following amendment to {order}: the contact name for delivery should read {name} {initial}., "
        "telephone {phone}.",
    ],
    "REFUND": [
        "I returned {product} {date} and still haven't received my refund. Where is it?",
        "Please refund {order}. The item never worked properly.",
        "I want my money back for {order}.",
        "You said the refund for {order} would take 5 working days. It's been {days}.",
        "Hi, could you refund {price} for {order}? Part of it was missing from the box.",
        "refund status for {order}?",
        "The {price} refund for {product} hasn't shown up on {pay} yet. Can you check?",
        "I was promised a partial refund for {order} because {fragile} arrived scratched. Still waiting.",
        "I cancelled {order} {date} but the money hasn't come back to my account.",
        _INFO + "How long does a refund usually take to go through once you get the item back?",
        "The price of {product} dropped by {price} right after I bought it. Can I get the difference "
        "refunded?",
        "Your courier lost my parcel and the replacement is out of stock, so I'd just like a full refund "
        "for {order}.",
        "Just want to confirm my refund for {order} went through - I haven't seen any email about it.",
        _ANGRY + "Give me a refund. {product} is nothing like the pictures on your site.",
        "I was offered store credit but I'd prefer a refund to {pay} for {order}.",
        "{product} came a week late so I'd like the {price} shipping fee refunded.",
        _ANGRY + "Still no refund for {order}. I sent it back over {days} ago and tracking shows you got it.",
        "Please put the {price} back on {pay}, {product} went back to you {date}.",
        "Your email said the refund for {order} was approved {date}, yet my bank statement shows nothing. Could "
        "you check what happened to it?",
        "can i be reimbursed for {order}, it broke the first time i used it",
        "The warehouse confirmed they received my return for {order}, so when will the credit reach my card?",
        "I paid for gift wrapping on {order} and it arrived without any. Can you refund that part?",
        "Only got back {price} of the {price2} I was owed for {order}. Where's the rest?",
        "I sent {product} back {date} using the label you provided, and it was signed for at your end. It's now "
        "been {days} and the balance still hasn't reappeared on {pay}. Can someone look into when I'll be paid "
        "back?",
        _INFO + "Do refunds go back to the original card or do you issue store credit?",
        _INFO + "Is the original delivery charge refunded too, or only the item price?",
        "Since you cancelled {order} yourselves because it was out of stock, when do I get my money?",
        "still waiting on my money for {order}",
        "I'm owed {price} from {order} after the partial cancellation. Please send it back to {pay}.",
        "Hello, your agent on the phone told me I'd get {price} back as a goodwill gesture for {order}. It hasn't "
        "arrived - could you check?",
        "You kept {price} as a restocking fee on {order} but the website says returns are free. I want that "
        "refunded.",
        "Could I get the money back for the {noun} that was missing from {order}? I don't need a replacement.",
        "I'd like my {price} back for {order} - the item is not as described.",
        "My card from before is closed now, so the refund for {order}, can you send it to {pay} please?",
        "cud i get my money back on {order}? not impressed with what came tbh",
        "I hereby request reimbursement of {price} in respect of {order}, in accordance with your published terms for "
        "goods not supplied.",
        "I was hoping someone could credit back the {price} I paid for the assembly service on {order} - nobody ever "
        "came to put it together.",
        "I paid {price} online for {product}, then saw the same thing for less at {store}. Can I have the difference "
        "back for {order}?",
        "I'm happy to keep {fragile} despite the chip on the side, but a bit of money back would seem fair.",
        "I returned a present someone bought me. Can the refund come to me rather than the person who paid for it?",
        "I cancelled the yearly delivery pass after a week and never used it. I'd like the fee back, please.",
        "I had to pay {price} in import duty when {order} arrived, even though checkout said duties were included. "
        "Please reimburse it.",
        _INFO + "Do refunds come back in the currency I paid in, or at whatever exchange rate applies on the day?",
        _INFO + "If something gets cheaper a week after I buy it, do you give back the difference?",
        "Bit of a saga, this one. Part of {order} was the wrong {noun}, so I sent it back as instructed, the correct "
        "one arrived, and somewhere along the way the {price} I was told I'd get back never turned up. Could someone "
        "sort out the money?",
        "I cancelled {order} in time but it was delivered anyway, so I refused it at the door. Please make sure I'm "
        "paid back.",
        "I booked a place on the in-store workshop at {store}, but it was called off. How do I get the booking fee "
        "back?",
        "My bank says they need a refund reference from you before they can trace the money for {order}.",
        "I sent back {qty} items from {order} but only one of them has been refunded so far.",
    ],
    "RETURN": [
        "How do I return {apparel}? It doesn't fit.",
        "I'd like to return {product} from {order}. Can you send me a return label?",
        "Can I exchange {apparel} for {size}?",
        _INFO + "What's your return policy on opened items?",
        "The return label in my email for {order} won't print. Can you resend it?",
        "I want to send back {product}, it's not what I expected. What's the process?",
        "return label for {order} pls",
        "Do I need the original box to return {product}? I threw it away.",
        "Hi, I received the wrong colour ({color} instead of {color2}) in {order}. I'd like to swap it.",
        "Can I drop off the return for {order} at {store} instead of mailing it?",
        _INFO + "How many days do I have to send something back if it doesn't suit?",
        "I'd like to start a return for {qty} items in {order}. They were a gift and don't suit.",
        "{gadget} stopped working after {days}. Can I send it back for a replacement?",
        "Is there a fee to return {product}? The website doesn't say.",
        "I already posted {product} back to you. Please confirm you received the return for {order}.",
        "I want to return everything in {order} except {product}. How do I do that?",
        "Bought {product} as a present but they already have one. Can it go back without a receipt?",
        "Where should I post {product} back to? It's from {order} and I've changed my mind.",
        "The {noun} I got in {order} is lovely but the shade really doesn't suit me. Could I trade it for the "
        "{color} one?",
        "Do you do exchanges in store? I'd like to bring {apparel} from {order} to {store} and get a different size.",
        _INFO + "Are sale items final, or can they still be sent back?",
        _INFO + "Can things bought online be returned to one of your shops?",
        "My mum ordered {product} for me and, bless her, it's not really my style. The tags are still on. What "
        "do I need to do to get it back to you, and can I choose something else instead?",
        "{gadget} from {order} started cutting out after a few uses. How do I send it in for a swap?",
        "It's been {days} since {order} arrived - am I still inside the window to send {product} back?",
        "You sent me {product} instead of what I ordered in {order}. Please arrange for it to be collected and "
        "the right one sent.",
        _INFO + "how do returns work with you guys",
        "Do I need an RMA number before I ship {gadget} from {order} back to you?",
        "Could you email me a QR code for returning {order} at the post office? I don't have a printer.",
        "The {noun} in {order} is much smaller than I pictured. I'd like to send it back.",
        "exchange {apparel} in {order} for the {color2} one pls",
        "My partner doesn't like {product} from {order}. Can we send it back unopened?",
        "{flatpack} turned out to be too big for the room. How do I arrange for it to go back? It's still in the "
        "box.",
        "Hello, the {noun} is not good for me, I want to give it back. How I can do this?",
        "ok so {apparel} dont fit, wanna swap 4 a diff size",
        "I wish to return {qty_big} units from {order}, which proved surplus to requirements. Please issue the "
        "necessary returns authorisation.",
        "I was hoping to exchange {gadget} for the {variant} version, if that's something you do.",
        "I've decided against keeping {product} from {order}. What's the next step to send things back?",
        "I bought a suit for my cousin's wedding, but the dress code has since changed to black tie. It's unworn with "
        "the tags on - how do I go about getting it back to you?",
        "I've only used the yoga mat once and it's not for me. Will you still take it back?",
        "I'd like to return {flatpack}. Can your courier collect it from my house? It's far too heavy to take to the "
        "post office.",
        "The air fryer is too small for our family. Could I swap it for the larger one and pay the difference?",
        "I receive {product} but it is not like I think. I would like to return, please send me the paper for the "
        "post.",
        "I ordered {apparel} in {qty} sizes to see which fits, as I'm between sizes. One of them fits perfectly, so "
        "I'd like to send the others back - can they all go in one parcel with one label?",
        "{order} - returning the lot, what's the address?",
        _INFO + "Are returns free for international customers, say in {country}?",
        _INFO + "If someone bought me a present, can I exchange it without them finding out?",
        "{gadget} from {order} developed a fault within the first year. Does a return like this go to you or to the "
        "manufacturer?",
        "Can I send back just the chairs from the dining set, or does the whole set have to go back?",
    ],
    "DELIVERY_ISSUE": [
        "The tracking for {order} says delivered but there's nothing at my door.",
        "My package arrived damaged. The box was crushed and {fragile} is cracked.",
        "{carrier} left {order} at the wrong address, a neighbour down the street has it.",
        "The driver never showed up for {order} even though I was home all day.",
        "Tracking number {track} has been stuck in transit for {days}. I think {order} is lost.",
        "Only part of {order} arrived, {product} is missing from the box.",
        "They left a note saying no one answered but I was home the whole time. Now {order} is back at "
        "the depot.",
        "{order} was returned to sender because the courier couldn't find my building. Can you resend it?",
        "The parcel for {order} got soaked in the rain and everything inside is ruined.",
        "i got someone elses package instead of mine, the name on the label isnt even close to mine",
        "The courier says {order} went to a parcel locker but I never got a pickup code.",
        "My delivery was due {date} and never came, and tracking {track} shows no movement at all.",
        "The box for {order} was left open on the porch and half the items are gone.",
        "{carrier} keeps rescheduling delivery of {order}. This is the third time.",
        "Received {order} but it was the wrong item entirely - I got {product}, which I never ordered.",
        "The label on {order} has an old address even though my account has the right one, so it's now "
        "sitting at a depot in {city}.",
        "Your driver threw my parcel over the fence and {fragile} broke.",
        "The outer box of {order} looked fine but {fragile} inside was in pieces.",
        "Two of the {qty_big} items in {order} never turned up, even though the packing slip lists them all.",
        "The delivery date you gave for {order} came and went {date}, and still nothing has turned up.",
        "my parcel got delivered to {address} which isn't my address at all",
        "The courier handed {order} to someone at the wrong flat - it went to {apt} and I'm in {apt2}.",
        "Tracking for {order} shows it was delivered to a town I've never heard of, hundreds of miles from me.",
        "The driver made me sign for {order} and then drove off with it still in the van.",
        "{order} arrived with the seal broken and {product} had clearly been opened and used.",
        "parcel never came. {carrier} says it's with me, it isn't.",
        "The box for {order} had {gadget} in it but no power cable or manual.",
        "I moved my whole week around to be in for this delivery. The app said {order} would come between 8 and "
        "12, then at 12:05 it flipped to 'delayed' with no new date. That's the second day in a row, and I still "
        "have nothing.",
        "The tracking says {order} is being held at customs in {country} and nobody will tell me why.",
        "{carrier} left a card to collect {order} from a depot an hour's drive away, though I'd chosen home "
        "delivery.",
        "The courier dumped {order} in the communal hallway and now it's disappeared.",
        "{order} has been 'out for delivery' for {days} without ever reaching me.",
        "The {noun} in {order} is the right item but it came in the wrong colour, {color2} instead of {color}.",
        "I am waiting my parcel since {days}. Tracking show it reach {city} and after that nothing move, I think it is "
        "lost.",
        "ur driver left {order} in my wheelie bin, only found it 2 days later and its soaked",
        "I wish to report that the consignment for {order} was received with the pallet visibly damaged and several "
        "cartons crushed. Please note this against the delivery.",
        "The delivery photo for {order} shows a front door that isn't mine.",
        "The candles in {order} arrived melted and bent out of shape - the van must have been roasting.",
        "The box for {order} arrived completely empty apart from the packing paper.",
        "{carrier} says my address doesn't exist, but I've lived here for years and get post every day.",
        "{order} came with {apparel} in {size}, but the packing slip and my confirmation both say {size2}.",
        "{flatpack} came without the bag of fittings, so there's no way to put it together.",
        "Long story short: I took the afternoon off for {order}, watched the van pull up across the road, saw the "
        "driver scan something and leave, and then got a 'sorry we missed you' text. Nothing was left here.",
        "half my stuff from {order} is missing, only the {noun} turned up",
        "The package is arrive but {fragile} inside is broken in many pieces.",
        "I paid extra for signed-for delivery on {order}, yet it was just left outside without anyone signing.",
        "{order} was meant to go to the locker at my station, but it's been diverted to a shop on the other side of "
        "{city}.",
        "One corner of the box for {flatpack} is smashed in and the panel inside is split, as if it was dropped from a "
        "height.",
        "I paid for next-day delivery on {order} and it's now {days} later with nothing.",
    ],
    "PAYMENT_ISSUE": [
        "I was charged twice for {order}.",
        "My card keeps getting declined at checkout even though there's money on it.",
        "The discount code {code} didn't apply and I paid full price ({price}) for {order}.",
        "There's an unauthorized charge of {price} on my card from your store.",
        "PayPal says the payment went through but {order} still shows as unpaid.",
        "Why was I charged {price} when the checkout total was {price2}?",
        "The invoice for {order} has the wrong company name on it, can you reissue it?",
        "I tried to pay with {pay} and got an error, but the money was taken anyway.",
        "My gift card balance didn't apply to {order}, I paid the whole {price} by card.",
        "got double charged for {order} pls fix",
        "Can I split the payment for {order} into instalments? Checkout only offered paying in full.",
        "Apple Pay isn't working on your site, it just spins forever when I try to pay.",
        "The pending hold of {price} from my cancelled order is still on my card {days} later.",
        "Someone used my card on your site, there are orders I never made. This looks like fraud.",
        "Shipping was charged on {order} even though it was over the free shipping threshold.",
        "My card was charged but I never got an order confirmation. What happened to my payment?",
        "You charged my old card instead of {pay}, which is the one I selected.",
        "Checkout tells me my billing address doesn't match, but it's exactly what my bank has on file.",
        "Can I get a proper invoice for {order}? Our accounts team needs one with the VAT broken out.",
        "Klarna says I owe {price} for {order}, but I paid with my debit card at checkout.",
        "promo code {code} won't work on {order}, it says expired but your email says it's valid till {date_future}",
        "My bank blocked the transaction because it flagged your payment page as insecure.",
        "Why has a {price} subscription fee appeared on my statement? I never signed up for a membership.",
        "can't pay with {pay}, it keeps bouncing me back to the basket",
        "I run a small café and buy our supplies through your trade account. This month's statement lists "
        "{order} at {price}, but the quote we agreed was {price2}, and my accountant won't sign it off until the "
        "figures match. Could you correct the amount?",
        "My payment for {order} is stuck on 'pending' and the order won't progress.",
        "Your direct debit came out a week early this month. My customer number is {custno}.",
        "Invoice {invoice} for {order} shows a late payment fee, but I paid on time.",
        "Tried to use a gift voucher on {order} and it just says 'invalid', even though it's never been used.",
        "The 3D Secure code never arrives, so I can't finish paying.",
        "Why does my bank show a foreign transaction fee on {order}? Your site said prices were in my currency.",
        "The employee discount isn't showing at checkout even though I'm logged in with my staff email.",
        "I got a payment reminder for {order} but it was paid in full {date}.",
        "I want to pay part with my gift card and the rest with {pay}, but the site only let me use one. How I can do "
        "it?",
        "google pay just shows a blank screen on ur checkout, cant finish paying",
        "I buy for a registered charity, so {order} should not have been charged VAT. Please issue a corrected invoice "
        "showing the zero-rated amount.",
        "I was hoping someone could explain the extra {price} that appeared on my statement a few days after {order}.",
        "I paid for {order} by bank transfer {date}, using the reference you gave me, and it still says awaiting "
        "payment.",
        "The card saved on my account has expired and I can't see where to add the new one, so paying for {order} "
        "keeps failing.",
        "I took the {noun} out of my basket before paying, but it was still on {order} and I've been billed for it.",
        "I chose to pay with my loyalty points on {order}, but the full {price} came off {pay} and the points are "
        "still there.",
        "Could you add our purchase order reference to the invoice for {order}? Finance won't release payment without "
        "it.",
        "Please, my card is now blocked because your site try many times to take the payment. Can you stop this?",
        "I cancelled my membership {date} but the monthly fee has still come out.",
        "invoice for {order}?",
        "Checkout keeps adding a {price} 'service fee' that isn't mentioned anywhere on the site.",
        "I was told I'd only be charged when {order} shipped, but the money came out the moment I placed it.",
        "Our trade account says we've reached our credit limit, but every invoice on it has been settled.",
        "My PayPal was debited for {order}, then credited, then debited again, and I can't work out how much I've "
        "actually paid.",
    ],
    "ACCOUNT": [
        "I can't log in to my account, the password reset email never arrives.",
        "Please delete my account and all the data you hold on me.",
        "How do I change the email address on my account to {email}?",
        "Someone hacked my account and changed the password.",
        "I'm locked out of my account after too many login attempts.",
        "unsubscribe me from your emails please",
        "I keep getting a 'session expired' error every time I try to sign in.",
        "Can you merge my two accounts? I accidentally signed up with {email} as well.",
        "The loyalty points from {order} never showed up in my account.",
        "Is there a way to turn on two-factor authentication for my account?",
        "The verification code you send to {phone} never comes through.",
        "I signed up but never got the confirmation email, so I can't activate my account.",
        "Please update the phone number on my profile to {phone}.",
        "Why does my account say it's suspended? I haven't done anything wrong.",
        "Forgot my username. The email I used is probably {email}.",
        "I'd like to stop the newsletter but keep my account open.",
        "There's an address in my account that isn't mine and orders I never placed. Has my account been "
        "hacked?",
        "How do I reset my password? The link in the email says it has expired.",
        "I'd like a copy of all the personal data you store about me.",
        "I recently got married, could you update the surname on my profile?",
        "can't sign in on the app, works fine on the website though",
        "Please stop sending me text messages about offers, I only want emails.",
        "All my saved addresses have disappeared from my profile.",
        "I got a login alert from a device I don't recognise. Can you check who's been in my account?",
        "The site won't accept my new password, it keeps saying it doesn't meet the requirements even though it "
        "does.",
        "How can I deactivate my account for a few months without losing my points?",
        "My flatmate and I share a laptop and our accounts seem to have got mixed up - his email now shows on my "
        "profile. Could you help untangle them so each login opens the right account?",
        "Update my date of birth on my account please, it's set wrong so I never get the birthday offer.",
        "Can't get into my account since I changed phones, the authenticator code doesn't work anymore.",
        "Please switch my marketing emails to once a month rather than every day.",
        "My order history page is completely empty even though I've bought plenty from you.",
        "Remove {email} from your mailing list.",
        "Sign-in with Google just loops back to the login screen.",
        "Please, I want that you remove my telephone number from my profile. I don't like to receive calls.",
        "how do i stop the app pinging me, its like 10 notifications a day",
        "Under data protection law, I request that you correct the inaccurate personal details held on my profile, in "
        "particular my home address.",
        "I was hoping someone could change the name on my account - it's still under my old business name.",
        "My account still has my late husband's name on it, and I'd like it changed over to mine.",
        "I used to shop with you under my work email, but I've left that job and can't get into that inbox any more. "
        "I'd like to move my account over to {email}.",
        "Can my account be set up so my partner can sign in too, with their own password?",
        "I set up an account for my {age}-year-old by mistake - could you close it?",
        "Can I choose which kinds of offers you email me about? I only care about outdoor gear.",
        "I've unticked personalised ads in my settings, but every time I go back the box is ticked again.",
        "Please take me off your paper catalogue list, I'd rather not get post from you.",
        "email on my acc is wrong, how do i fix",
        "Your site says my email is already registered, but I've never made an account with you.",
        "I've been trying to update the address in my account for the last hour. Every time I press save, the page "
        "reloads and the old one comes back. I've tried two browsers and the app.",
        "I spent enough last year to reach gold tier, but my profile still says silver.",
        "Since I once ordered from your German site, all my account emails come in German. Can I switch them back to "
        "English?",
    ],
    "PRODUCT_INFO": [
        _INFO + "Is {apparel} available in {size}?",
        _INFO + "Does {gadget} come with a warranty?",
        _INFO + "What are the dimensions of {product}?",
        _INFO + "When will {product} be back in stock?",
        _INFO + "Will {gadget} work with {device}?",
        _INFO + "What material is {apparel} made of? I have a wool allergy.",
        _INFO + "Do you sell replacement parts for {gadget}?",
        _INFO + "what's the difference between the {variant} and the {variant2} version",
        _INFO + "Does {apparel} run true to size? I'm usually {size}.",
        _INFO + "Can you tell me whether {product} is vegan and cruelty-free?",
        _INFO + "I saw {product} for {price} at {store}. Is it the same price online?",
        _INFO + "How heavy is {product}? I need something light for travelling.",
        _INFO + "Does {product} come in any other colours besides {color}?",
        _INFO + "Is {product} suitable for kids under {age}?",
        _INFO + "How long does the battery last on {gadget}?",
        _INFO + "Do you ship {product} to {country}, and roughly how long does it take?",
        _INFO + "Is {product} the same one I got in {order}? I'd like another.",
        _INFO + "Do you offer a discount if I buy several of {product} for my team?",
        _INFO + "Is the ceramic mug set dishwasher and microwave safe?",
        _INFO + "Is a charger included with {gadget}, or do I need to buy one separately?",
        _INFO + "Can I pick up {product} from {store} if I order online?",
        _INFO + "Any chance {product} will go on sale soon?",
        _INFO + "What's the power draw of {gadget}? Our caravan runs on a small inverter.",
        _INFO + "Do you do next-day delivery to {city}?",
        _INFO + "Which country do you source {product} from?",
        _INFO + "can i buy {product} separately or only as part of a set",
        _INFO + "I'm kitting out a small flat for my daughter starting university and trying to keep things "
        "compact. Would {flatpack} fit through a standard doorway before assembly, and roughly how long does it "
        "take one person to put together?",
        _INFO + "Is a newer version of {gadget} coming out this year? I don't want to buy right before an update.",
        _INFO + "Do you price match if another shop has {product} cheaper?",
        _INFO + "what sizes do you have {apparel} in",
        _INFO + "What's the lead time on {product} if I order in bulk, say {qty_big} units?",
        _INFO + "Are you still selling {product}, or has that line been discontinued?",
        _INFO + "Can you gift-wrap {product} if I tick the option, and is there a charge for it?",
        _INFO + "Could you tell me the exact shade of {color} on {apparel}? The photos look different on my phone "
        "and laptop.",
        _INFO + "Sorry for my english. I look at {apparel} and I don't find if this model is for man or for woman.",
        _INFO + "is the smart watch waterproof or just splashproof? wanna swim with it",
        _INFO + "We are considering the linen duvet cover for our hotel's guest rooms and would appreciate a "
        "specification sheet, including materials and care instructions.",
        _INFO + "I was hoping someone could tell me whether {product} can be personalised with initials.",
        _INFO + "I'm trying to find out how noisy the XR-500 blender is - the walls in my flat are paper thin.",
        _INFO + "My dad is in his eighties and has arthritis in both hands, so fiddly buttons are hopeless for him. Is "
        "{gadget} easy to use with a weak grip?",
        _INFO + "Does {flatpack} arrive in one piece, or will I have to build it myself?",
        _INFO + "Can {apparel} go in the tumble dryer?",
        _INFO + "Is there any latex in the yoga mat? My son reacts to it.",
        _INFO + "Do you offer evening delivery slots for big items like {flatpack}?",
        _INFO + "Which plug is fitted on {gadget}, UK or European?",
        _INFO + "{product} - in stock at {store}?",
        _INFO + "I'm stuck for a present for {person}, who's into camping and already owns most of the basics. Would "
        "the 2-person tent be a sensible choice, or is there something you'd recommend instead?",
        _INFO + "Do you or the maker repair {gadget} if something fails after the warranty runs out?",
        _INFO + "Is there a display model of {flatpack} at {store} I could look at before buying?",
        _INFO + "Are the instructions for {gadget} available in Spanish? My mum doesn't read English.",
    ],
    "COMPLAINT": [
        _ANGRY + "Your customer service is terrible. I've emailed three times and nobody replies.",
        "The quality of {product} has gone downhill, it's nothing like the one I bought {date}.",
        "The delivery driver was extremely rude to my elderly mother.",
        "I'm very disappointed with how {order} was handled. Nobody kept me informed.",
        "Your website keeps crashing when I try to check out. It's been like this for {days}.",
        _ANGRY + "I waited 45 minutes on hold and then got cut off. Unacceptable.",
        "The packaging for {order} was absurdly wasteful, a tiny item in a huge box full of plastic.",
        "why is everything so expensive now? {product} went up from {price} to {price2}",
        "I was treated badly by the staff at {store} when I tried to ask a simple question.",
        "Your ad said free shipping, but it's only over {price}. That's misleading.",
        _ANGRY + "Worst shopping experience I have ever had. Never again.",
        _ANGRY + "Your chatbot is useless, it just keeps sending me the same FAQ link over and over.",
        "The instructions that came with {flatpack} are impossible to follow and half the screws were the "
        "wrong size.",
        "Your agent promised me a callback {date} and nobody ever called.",
        "I'm not happy that you share my email with partners. I started getting spam right after ordering.",
        _ANGRY + "I've been a loyal customer since {year} and this is how you treat me? Really "
        "disappointing.",
        "{product} smells awful, like chemicals. Not what I expected at that price.",
        "I find it ridiculous that I have to create an account just to ask you a question.",
        "The woman I spoke to on the phone was condescending and kept talking over me.",
        "{product} fell apart after {days} of normal use. For the price, that's pathetic.",
        "you lot used to be good, what happened",
        "Every time I visit your site I get bombarded with pop-ups. It's exhausting.",
        "The sizing on your clothes is all over the place - I'm {size} in one item and two sizes bigger in "
        "another.",
        "I've had three different answers from three different agents about the same question.",
        "I've recommended you to friends for years, so it pains me to write this. The last few times I contacted "
        "support, the replies were copy-pasted and didn't address what I asked. It feels like nobody actually "
        "reads the messages anymore.",
        _ANGRY + "Shocking service around {order} from start to finish, and not one apology.",
        "The photos on your site are heavily edited; in real life {product} looked dull and cheap.",
        "The changes to the loyalty scheme make it almost impossible to earn anything now.",
        "I get a feedback survey after every single purchase, sometimes three for one order. It's excessive.",
        "Prices in the app are higher than on the website for the exact same thing. That's not on.",
        "The manager at {store} refused to help and told me to 'just go online'.",
        _ANGRY + "Seriously, does anyone there actually care? I've given up expecting a decent answer.",
        "The new app update removed the wishlist and search is much worse now.",
        "I buy from your shop many years, but now the quality is very bad. After one washing the colour go away.",
        "ur site is sooo slow, took me 20 mins to check out smh",
        "I wish to register my dissatisfaction with the manner in which my previous enquiries have been handled. "
        "Responses have been slow and, frankly, unhelpful.",
        "I use a wheelchair and couldn't get into {store} because the ramp was blocked with boxes again.",
        "It feels like loyal customers get punished - new customers are offered far better deals than I ever see.",
        "I spent ages typing out my problem in your contact form, pressed send, and it wiped everything with an error. "
        "Third time now.",
        "Fed up with the queues at the tills in {store}, there's only ever one open at the weekend.",
        _ANGRY + "A security guard followed me round {store} the whole time I was there, as if I was a thief. I've "
        "never felt so humiliated.",
        "Your phone line goes round in circles: press 1, press 3, then straight back to the main menu without ever "
        "reaching a person.",
        "Your website doesn't work with my screen reader - half the buttons have no labels, so I can't shop on it.",
        "Your live chat agent closed the conversation while I was still typing my reply.",
        "{product} - overpriced for what you get.",
        "I don't usually write in, but my elderly neighbour asked me to help her order from you and the checkout was "
        "so confusing that she gave up halfway. Not everyone is comfortable online, and the site doesn't seem to care.",
        "Your marketing emails are full of fake countdown timers. It's manipulative and I'm tired of it.",
        "The changing rooms at {store} were filthy, with clothes all over the floor and a cracked mirror.",
        "I left an honest two-star review on your site and it never appeared. It looks like you only publish the good "
        "ones.",
    ],
    "OTHER": [
        _INFO + "What are your opening hours on {weekday}?",
        _INFO + "Are you hiring? I'd love to work at {store}.",
        _INFO + "Just wanted to say the staff at {store} were lovely. Keep it up!",
        _INFO + "We are a marketing agency and can boost your sales by 300%. Reply to book a free call.",
        _INFO + "Do you have a physical shop in {city}?",
        _INFO + "I think this email was meant for someone else, I've never shopped with you.",
        _INFO + "Hello, I'm a journalist writing about small retailers. Could someone from your team "
        "talk to me?",
        _INFO + "Congratulations!!! You have been selected for a $1000 gift card, click the link to claim.",
        _INFO + "Your new website looks great, much easier to use than the old one.",
        _INFO + "Would you be interested in stocking our handmade candles? We're a small business in {city}.",
        _INFO + "testing whether this contact form works, please ignore",
        _INFO + "Do you donate to local charities? Our school is running a raffle on {date_future}.",
        _INFO + "Where can I find your company's sustainability report?",
        _INFO + "Is your phone line open on weekends? I tried calling {phone} on Saturday.",
        _INFO + "I love your products, been buying them since {year}. No question, just a thank you!",
        _INFO + "I'm a student doing a project on online shopping. Could I ask you a few survey questions?",
        _INFO + "A small suggestion: please add a dark mode to the app.",
        _INFO + "Just wanted to say thanks, {order} arrived beautifully wrapped and my wife loved it.",
        _INFO + "Is your {city} store open late on {weekday}?",
        _INFO + "Is there parking near {store}?",
        _INFO + "I'm an influencer with 40k followers and would love to collaborate on a sponsored post.",
        _INFO + "Hi Gareth, sending over the minutes from Thursday's meeting as promised.",
        _INFO + "Your parcel is waiting. Pay the {price} customs fee at this link to release it.",
        _INFO + "Could you pass my thanks to whoever packed {order}? The handwritten note was a lovely touch.",
        _INFO + "Just a thought: a loyalty card for the physical shops would be nice.",
        _INFO + "We're a local football club looking for sponsors for next season. Would your shop consider it?",
        _INFO + "My grandma says hello, she loves shopping at {store}!",
        _INFO + "Does your company offer work experience placements for school pupils?",
        _INFO + "We noticed your website isn't ranking on page one. Our SEO team can fix that for a small monthly "
        "fee.",
        _INFO + "I bought my first jacket from you back in {year} and it's still going strong after countless "
        "hikes. I just wanted someone there to know how well it has held up.",
        _INFO + "What's your head office postal address? I need it for some paperwork.",
        _INFO + "sorry, wrong inbox",
        _INFO + "Suggestion: it'd be great if you offered refill packs to cut down on waste.",
        _INFO + "Is the {city} branch wheelchair accessible?",
        _INFO + "Hello, I am from {country} and I visit {city} next month. Your shop is near to the centre?",
        _INFO + "ur instagram posts r so good, whoever runs it deserves a raise",
        _INFO + "I am writing on behalf of the {city} Chamber of Commerce to invite a representative of your company "
        "to speak at our annual retail forum.",
        _INFO + "I was hoping someone could tell me if you run any in-store events, like craft afternoons or demos.",
        _INFO + "Just letting you know your {city} branch's listing on Google Maps shows the wrong opening times.",
        _INFO + "My grandfather worked in your first warehouse back in the sixties. We found some old photos of him "
        "with the delivery vans and wondered whether your company archive would like copies.",
        _INFO + "I think I left my umbrella at {store} yesterday. Do you keep lost property?",
        _INFO + "Dear valued partner, please find attached the updated bank details for settlement of the outstanding "
        "invoice.",
        _INFO + "Security notice: your mailbox storage is full. Sign in at the link below to keep receiving messages.",
        _INFO + "Your delivery driver helped me carry {flatpack} up three flights of stairs. Please pass on my thanks.",
        _INFO + "It would be handy if your receipts showed the date the returns window closes.",
        _INFO + "love the new logo",
        _INFO + "I'm a teacher in {city} and our class is doing a project on how shops work. Could I bring a small "
        "group to see behind the scenes at your shop there?",
        _INFO + "Are you an independent business or part of a bigger group?",
        _INFO + "Can I bring my dog into {store}?",
        _INFO + "Could I put up a poster for our village fete in {store}?",
    ],
}

# How often an order id is mentioned, per intent. Intents where an order is unusual only get an id when
# the template itself talks about an order.
_ID_RATE = {
    "ORDER_STATUS": 0.8, "CANCEL_ORDER": 0.75, "CHANGE_ORDER": 0.75, "REFUND": 0.7, "RETURN": 0.6,
    "DELIVERY_ISSUE": 0.75, "PAYMENT_ISSUE": 0.5, "ACCOUNT": 0.0, "PRODUCT_INFO": 0.0, "COMPLAINT": 0.35,
    "OTHER": 0.0,
}
_SLOT_ONLY_ID_RATE = 0.5
# (HIGH, LOW, MEDIUM) for actionable phrasings; complaints and failures are rarely "no rush".
_URGENCY_WEIGHTS = {
    "COMPLAINT": (0.35, 0.1, 0.55), "DELIVERY_ISSUE": (0.35, 0.15, 0.5), "PAYMENT_ISSUE": (0.35, 0.2, 0.45),
}
_MONEY_INTENTS = ("CANCEL_ORDER", "REFUND", "RETURN", "DELIVERY_ISSUE", "PAYMENT_ISSUE", "COMPLAINT")
_ORDER_INTENTS = _MONEY_INTENTS + ("ORDER_STATUS", "CHANGE_ORDER")
_SHIP_INTENTS = ("ORDER_STATUS", "REFUND", "RETURN", "DELIVERY_ISSUE", "COMPLAINT")

_UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_ALNUM = _UPPER + "0123456789"


def _digits(rng: random.Random, k: int, lead_nonzero: bool = True) -> str:
    first = rng.choice("123456789") if lead_nonzero else rng.choice("0123456789")
    return first + "".join(rng.choice("0123456789") for _ in range(k - 1))


# Order-id formats: name -> (maker, whether it has letters that a lowercase variant can change).
ORDER_ID_FORMATS: dict[str, tuple[Callable[[random.Random], str], bool]] = {
    "letter5": (lambda r: r.choice(_UPPER) + _digits(r, 5), True),
    "ord_year": (lambda r: f"ORD-{r.randint(2021, 2025)}-{_digits(r, 6, False)}", True),
    "numeric10": (lambda r: _digits(r, 10), False),
    "amazon": (lambda r: f"{r.choice('1234')}{_digits(r, 2, False)}-{_digits(r, 7)}-{_digits(r, 7)}", False),
    "hash_numeric": (lambda r: _digits(r, r.choice((5, 5, 6))), False),
    "so_dash": (lambda r: f"SO-{_digits(r, 5)}", True),
    "web7": (lambda r: f"WEB{_digits(r, 7)}", True),
    "ebay": (lambda r: f"{_digits(r, 2)}-{_digits(r, 5, False)}-{_digits(r, 5, False)}", False),
}
ORDER_ID_PATTERNS: dict[str, re.Pattern[str]] = {
    "letter5": re.compile(r"^[A-Za-z]\d{5}$"),
    "ord_year": re.compile(r"^(?:ORD|ord)-\d{4}-\d{6}$"),
    "numeric10": re.compile(r"^\d{10}$"),
    "amazon": re.compile(r"^\d{3}-\d{7}-\d{7}$"),
    "hash_numeric": re.compile(r"^\d{5,6}$"),
    "so_dash": re.compile(r"^(?:SO|so)-\d{5}$"),
    "web7": re.compile(r"^(?:WEB|web)\d{7}$"),
    "ebay": re.compile(r"^\d{2}-\d{5}-\d{5}$"),
}

# Placeholder for the order reference while the text is being styled, so casing and typos never touch it.
_ID_MARK = "\ue000"

_ORDER_INLINE = [
    "order {ref}", "my order {ref}", "order number {ref}", "order no. {ref}", "my order ({ref})", "{ref}",
    "my purchase {ref}", "order {ref}", "order #{ref_nohash}",
]
_ORDER_GENERIC = ["my order", "my order", "the order", "my recent order", "my last order", "my online order"]
_ID_SENTENCES = [
    "Order number: {ref}", "Order no. {ref}.", "It's {ref} btw.", "Ref: {ref}", "My order number is {ref}.",
    "Confirmation number {ref}.", "The order is {ref}.", "Order {ref} for reference.", "order id {ref}",
    "{ref} is the order number.", "Order: {ref}", "it's order {ref} btw",
]
_ID_TAILS = [" (order {ref})", ", order {ref}", " - ref {ref}", " (order number {ref})", ", it's {ref}"]

_HIGH_SENTENCES = [
    "This is urgent.", "Urgent please!", "Please deal with this ASAP.", "I need this sorted immediately.",
    "Please reply as soon as possible.", "I need an answer today.", "Need this fixed by tonight!",
    "Please get back to me right away.", "This is an emergency, please help.",
    "It's urgent, I leave for the airport tomorrow morning.", "I need this resolved today.",
    "please treat this as urgent", "Need a reply asap!!",
]
_HIGH_MONEY_SENTENCES = [
    "If this isn't resolved I'll file a chargeback.",
    "Otherwise I'm going to dispute the charge with my bank.",
    "I'm considering legal action at this point.",
]
_HIGH_PREFIXES = ["URGENT:", "Urgent -", "ASAP:", "URGENT!!"]
_HIGH_TAILS = [" ASAP", " asap pls", " immediately", " right away", " as soon as possible", " by tonight"]
_LOW_SENTENCES = [
    "No rush.", "No rush at all.", "Not urgent, just curious.", "Just curious.", "Take your time.",
    "No hurry on this.", "Whenever you can is fine.", "This is not urgent.", "Nothing urgent.",
    "Low priority, so whenever you get a chance.", "No pressure, answer at your convenience.",
    "I'm not in a hurry.", "no rush tho",
]
_LOW_TAILS = [", no rush", " whenever you get a chance", ", no hurry", " when you have a moment",
              " (not urgent)"]

_GREETINGS = [
    "Hi,", "Hello,", "Hi team,", "Hey,", "Dear Customer Service,", "Good morning,", "Hi there!",
    "Hello support team,", "To whom it may concern,", "hey guys", "Hiya,", "Good afternoon,",
]
_NAMES = ["Maria", "Tom", "Priya", "Jake", "Sofia", "Liam", "Aisha", "Chen", "Olivia", "Marco", "Fatima",
          "Dave"]
_SIGNOFFS = [
    "Thanks, {name}", "Thank you!", "Regards,\n{name}", "Best, {name}", "Cheers", "Sent from my iPhone",
    "Sent from my Galaxy", "-- {name}", "Thx", "Kind regards, {name} {initial}.", "{name}",
    "Thanks in advance",
]
_SUBJECTS_GENERIC = ["Question", "Help", "Hi", "(no subject)", "Enquiry", "Re: your email", "Customer query"]
_SUBJECTS: dict[str, list[str]] = {
    "ORDER_STATUS": ["Where is my order?", "Order status", "Shipping update?"],
    "CANCEL_ORDER": ["Cancel order", "Cancellation request"],
    "CHANGE_ORDER": ["Change to my order", "Order change"],
    "REFUND": ["Refund", "Refund request"],
    "RETURN": ["Return", "Return request", "Exchange"],
    "DELIVERY_ISSUE": ["Delivery problem", "Problem with my delivery"],
    "PAYMENT_ISSUE": ["Payment problem", "Billing question"],
    "ACCOUNT": ["Account help", "My account"],
    "PRODUCT_INFO": ["Product question", "Question about an item"],
    "COMPLAINT": ["Complaint", "Very unhappy"],
    "OTHER": [],
}
_EMOJI_NEUTRAL = ["🙂", "🙏", "📦", "👍", "😊", "🤞", "🙏🙏"]
_EMOJI_ANGRY = ["😡", "😤", "🙄", "😭", "😞", "🤬"]

_CONTEXT_ANY = [
    "Sorry if this is the wrong place to ask.", "First time contacting you.", "Hope you're well.",
    "I'm travelling for work next week.", "I've been a customer since {year}.",
]
_CONTEXT_ORDER = [
    "It was meant to be a birthday present.", "I ordered it for my mum.",
    "My partner placed the order but it's under my name.", "I've ordered from you loads of times before.",
    "So I ordered this for my husband and was really looking forward to it.",
]
_PRAISE = ["Love your shop btw!", "You've always been great so far.",
           "Your team has been lovely in the past."]
_VENT = [
    "This is the second time this has happened.", "Really not impressed.", "Honestly this is so frustrating.",
    "I expected better from you.",
]
_ASIDES = [
    "PS: do you ship to Canada?", "P.S. are you hiring at the moment?", "Also, do you still sell gift cards?",
    "btw do you have a store in {city}?", "PS love the new website.",
]
_DISTRACTORS_ANY = [
    "You can call me on {phone}.", "Postcode is {zip} if that matters.", "My customer number is {custno}.",
    "I'm in {city}, {zip}.", "I've been shopping with you since {year}.",
]
_DISTRACTORS_ORDER = [
    "I paid {price} in total.", "It was {qty} items in total.", "Ordered it {date}.",
    "Invoice number {invoice}.",
    "It's the {sku}.",
]
_DISTRACTORS_SHIP = ["Tracking says {track}.", "The tracking number is {track}."]

_PRODUCTS = [
    "the blue hoodie", "the wireless earbuds", "the XR-500 blender", "the running shoes", "the standing desk",
    "the 3-pack of bath towels", "the ceramic mug set", "the kids' rain jacket", "the yoga mat",
    "the air fryer", "the leather wallet", "the phone case", "the linen duvet cover", "the desk lamp",
    "the espresso machine", "the winter boots", "the 65L hiking backpack", "the smart watch",
    "the bluetooth speaker", "the cast iron pan", "the Model KX-2200B vacuum", "the 2-person tent",
    "the wool scarf", "the baby monitor",
]
_APPAREL = [
    "the blue hoodie", "the running shoes", "the winter boots", "the kids' rain jacket", "the wool scarf",
    "the linen shirt", "the denim jacket", "the hiking trousers",
]
_GADGETS = [
    "the wireless earbuds", "the XR-500 blender", "the smart watch", "the bluetooth speaker", "the air fryer",
    "the espresso machine", "the Model KX-2200B vacuum", "the baby monitor", "the e-reader",
]
_FRAGILE = [
    "the ceramic mug set", "the desk lamp", "the espresso machine", "the smart watch", "the glass vase",
    "the bluetooth speaker", "the picture frame", "the baby monitor",
]
_FLATPACK = ["the standing desk", "the 2-person tent", "the bookshelf", "the office chair", "the bunk bed"]
_NOUNS = ["hoodie", "yoga mat", "mug set", "desk lamp", "scarf", "phone case", "pair of socks", "towel set"]
_COLORS = ["black", "navy", "red", "sage green", "grey", "white", "mustard", "pink"]
_SIZES = ["S", "M", "L", "XL", "size 9", "size 38", "a medium", "a large", "UK 7", "size 10", "size 42"]
_CITIES = ["Leeds", "Austin", "Dublin", "Manchester", "Denver", "Toronto", "Bristol", "Melbourne", "Lyon"]
_COUNTRIES = ["Canada", "Ireland", "Norway", "Australia", "Mexico", "Switzerland"]
_CARRIERS = ["UPS", "FedEx", "DHL", "USPS", "Royal Mail", "The courier", "Evri", "DPD"]
_DEVICES = ["an iPhone 15", "a Samsung S23", "a 220V socket", "Android 14", "my 2019 MacBook",
            "a 110V outlet"]
_VARIANTS = ["Pro", "Lite", "Plus", "Max", "Mini", "2023", "Classic"]
_WEEKDAYS = ["Sunday", "Saturday", "bank holidays", "Christmas Eve", "Boxing Day", "weekday evenings"]
_PERSONS = ["my sister", "my neighbour Tom Baker", "my colleague Anna", "my dad", "J. Rivera"]
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
_NUMBER_WORDS = ["two", "three", "four", "five"]


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _date(r: random.Random) -> str:
    d, m = r.randint(1, 28), r.randint(1, 12)
    return r.choice([
        f"on {d}/{m:02d}", f"on {m}/{d}", f"on {_MONTHS[m - 1]} {_ordinal(d)}", "last Tuesday",
        f"{r.randint(3, 20)} days ago",
        f"on {r.randint(2023, 2025)}-{m:02d}-{d:02d}", "over the weekend", "on Black Friday", "a week ago",
        f"on the {_ordinal(d)}", f"back in {_MONTHS[m - 1]}", "last month",
    ])


def _date_future(r: random.Random) -> str:
    d, m = r.randint(1, 28), r.randint(1, 12)
    return r.choice(["next Friday", f"the {_ordinal(d)}", f"{_MONTHS[m - 1]} {d}", "next week",
                     f"{d}/{m:02d}"])


def _price(r: random.Random) -> str:
    amount = r.choice([r.randint(5, 300) + r.choice((0, 0.99, 0.5, 0.49)), r.randint(300, 1500)])
    cents = f"{amount:,.2f}"
    return r.choice([f"${cents}", f"€{amount:.0f}", f"£{cents}", f"{cents} USD", f"€{cents.replace('.', ',')}"
                     if amount < 1000 else f"€{amount:.0f}", f"${amount:.0f}"])


def _phone(r: random.Random) -> str:
    return r.choice([
        f"555-{_digits(r, 3)}-{_digits(r, 4)}", f"({_digits(r, 3)}) 555-{_digits(r, 4, False)}",
        f"+44 7700 {_digits(r, 6)}", f"07700 {_digits(r, 6)}", f"+1 415 555 {_digits(r, 4, False)}",
    ])


def _track(r: random.Random) -> str:
    return r.choice([
        "1Z" + "".join(r.choice(_ALNUM) for _ in range(6)) + _digits(r, 10, False),
        "9400 1" + _digits(r, 3, False) + " " + " ".join(_digits(r, 4, False) for _ in range(3)) + " "
        + _digits(r, 2, False),
        "TBA" + _digits(r, 12, False), "JD01" + _digits(r, 16, False), _digits(r, 12),
        r.choice(_UPPER) + r.choice(_UPPER) + _digits(r, 9) + "GB",
    ])


def _address(r: random.Random) -> str:
    return r.choice([
        f"{r.randint(1, 250)} Elm Street, Apt {r.randint(1, 40)}{r.choice('ABCD')}",
        f"Flat {r.randint(1, 12)}, {r.randint(2, 99)} Kings Road, London",
        f"{r.randint(100, 9999)} Pine Ave, Seattle WA {_digits(r, 5)}",
        f"{r.randint(1, 80)} Rue Lafayette, {_digits(r, 5)} Paris",
        f"{r.randint(1, 300)} Harbour St, Sydney {_digits(r, 4)}",
    ])


def _apt(r: random.Random) -> str:
    return f"Apt {r.randint(1, 60)}{r.choice(('', 'A', 'B', 'C'))}"


def _sku(r: random.Random) -> str:
    return r.choice([
        f"model {r.choice(_UPPER)}{r.choice(_UPPER)}-{r.randint(100, 9900)}",
        f"SKU {_digits(r, 2)}-{_digits(r, 4)}",
        f"item no. {_digits(r, 5)}", f"part no. {_digits(r, 4)}-{r.choice(_UPPER)}",
    ])


_SLOT_MAKERS: dict[str, Callable[[random.Random], str]] = {
    "product": lambda r: r.choice(_PRODUCTS),
    "apparel": lambda r: r.choice(_APPAREL),
    "gadget": lambda r: r.choice(_GADGETS),
    "fragile": lambda r: r.choice(_FRAGILE),
    "flatpack": lambda r: r.choice(_FLATPACK),
    "noun": lambda r: r.choice(_NOUNS),
    "date": _date,
    "date_future": _date_future,
    "days": lambda r: r.choice([f"{r.randint(3, 21)} days", "two weeks", "over a week", "3 weeks",
                                "ten days"]),
    "price": _price,
    "qty": lambda r: r.choice([str(r.randint(2, 6)), r.choice(_NUMBER_WORDS)]),
    "qty_big": lambda r: str(r.randint(3, 12)),
    "qty_small": lambda r: r.choice(["1", "2", "one", "two"]),
    "size": lambda r: r.choice(_SIZES),
    "color": lambda r: r.choice(_COLORS),
    "address": _address,
    "apt": _apt,
    "phone": _phone,
    "email": lambda r: f"{r.choice(_NAMES).lower()}{r.choice(('.k', '_', '', '.r'))}{r.randint(1, 99)}@"
    f"{r.choice(('gmail.com', 'outlook.com', 'yahoo.co.uk', 'icloud.com'))}",
    "pay": lambda r: r.choice([f"my Visa ending in {_digits(r, 4, False)}", "PayPal", "Apple Pay",
                               f"my Mastercard ending {_digits(r, 4, False)}", "my debit card", "Klarna"]),
    "carrier": lambda r: r.choice(_CARRIERS),
    "track": _track,
    "code": lambda r: r.choice(("SPRING", "WELCOME", "SAVE", "SUMMER", "VIP")) + str(r.choice((10, 15, 20))),
    "store": lambda r: r.choice([f"your {r.choice(_CITIES)} store", f"the {r.choice(_CITIES)} branch",
                                 "your shop on High Street"]),
    "city": lambda r: r.choice(_CITIES),
    "country": lambda r: r.choice(_COUNTRIES),
    "device": lambda r: r.choice(_DEVICES),
    "variant": lambda r: r.choice(_VARIANTS),
    "age": lambda r: str(r.randint(3, 12)),
    "weekday": lambda r: r.choice(_WEEKDAYS),
    "year": lambda r: str(r.randint(2009, 2023)),
    "person": lambda r: r.choice(_PERSONS),
    "sku": _sku,
    "zip": lambda r: r.choice([_digits(r, 5), f"SW{r.randint(1, 20)} {r.randint(1, 9)}AA",
                               f"M5V {r.randint(1, 9)}T6"]),
    "custno": lambda r: r.choice([f"C-{_digits(r, 5)}", f"{_digits(r, 4)}-{_digits(r, 4)}",
                                  f"CU{_digits(r, 6)}"]),
    "invoice": lambda r: r.choice([f"INV-{r.randint(2022, 2025)}-{_digits(r, 4, False)}",
                                   f"{r.randint(2022, 2025)}/{_digits(r, 4)}"]),
    "name": lambda r: r.choice(_NAMES),
    "initial": lambda r: r.choice(_UPPER),
}


class _Slots(dict[str, str]):
    """Fills template slots lazily so each example draws only the values it needs, in template order."""

    def __init__(self, rng: random.Random, fixed: dict[str, str]) -> None:
        super().__init__(fixed)
        self.rng = rng

    def __missing__(self, key: str) -> str:
        base = key[:-1] if key.endswith("2") and key[:-1] in _SLOT_MAKERS else key
        value = _SLOT_MAKERS[base](self.rng)
        for _ in range(20):  # a "…2" slot must differ from its base slot ("from red to red" is nonsense)
            if base == key or value != self.get(base):
                break
            value = _SLOT_MAKERS[base](self.rng)
        self[key] = value
        return value


@dataclass(frozen=True)
class Example:
    """One labelled message; ``template`` is the core phrasing id used for template-disjoint splits."""

    text: str
    output: dict[str, Any] = field(hash=False)
    template: str


_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?])\s+")
_REQUEST_RE = re.compile(r"\b(?:please|pls|can you|could you|can i|i need|i want|i'd like)\b", re.IGNORECASE)


def _request_sentences(core: list[str]) -> list[int]:
    """Indexes of core sentences that ask for something; only these read naturally with "..., ASAP"."""
    return [i for i, s in enumerate(core) if s.rstrip().endswith("?") or _REQUEST_RE.search(s)]


class _Template(NamedTuple):
    intent: str
    text: str
    info: bool
    angry: bool
    asks: bool  # has a question or request, so an urgency cue reads naturally


def _parse_templates(by_intent: dict[str, list[str]], id_prefix: str = "") -> dict[str, _Template]:
    if set(by_intent) != set(INTENTS):
        raise RuntimeError("generator templates and schema intents disagree")
    table: dict[str, _Template] = {}
    for intent in INTENTS:
        for i, raw in enumerate(by_intent[intent]):
            tid = f"{intent}/{id_prefix}{i:02d}"
            text = raw.removeprefix(_INFO).removeprefix(_ANGRY)
            if LOW_CUE_RE.search(text):
                raise RuntimeError(f"{tid}: no-rush cues belong in the cue pools, not templates")
            asks = bool(_request_sentences(_SENTENCE_SPLIT_RE.split(text)))
            info, angry = raw.startswith(_INFO), raw.startswith(_ANGRY)
            table[tid] = _Template(intent, text, info, angry, asks)
    return table


# Phrasings that only ever go to the train split (ids like "REFUND/t07"). They were written after the
# split existed, by writers shown only the train templates and the label rules, so they add training
# variety without touching the val and test splits or borrowing from their phrasings.
TRAIN_ONLY_PATH = Path(__file__).with_name("train_templates.json")
_SPLIT_TABLE = _parse_templates(_TEMPLATES)
_TRAIN_ONLY_TABLE = _parse_templates(json.loads(TRAIN_ONLY_PATH.read_text(encoding="utf-8")), id_prefix="t")
_TABLE = _SPLIT_TABLE | _TRAIN_ONLY_TABLE


def _ids_by_intent(table: dict[str, _Template]) -> dict[str, list[str]]:
    return {intent: [tid for tid, t in table.items() if t.intent == intent] for intent in INTENTS}


def templates() -> dict[str, list[str]]:
    """Template ids per intent (schema order), so a caller can split phrasings across train/val/test."""
    return _ids_by_intent(_SPLIT_TABLE)


def train_only_templates() -> dict[str, list[str]]:
    """Template ids per intent that a caller puts in the train split only (see ``TRAIN_ONLY_PATH``)."""
    return _ids_by_intent(_TRAIN_ONLY_TABLE)


def is_info_template(template_id: str) -> bool:
    """Information-only phrasings default to LOW urgency (see the module docstring)."""
    return _TABLE[template_id].info


def has_shouting(text: str) -> bool:
    """True when SHOUT_RUN consecutive words are written in capitals (numbers and ids don't count)."""
    run = 0
    for token in text.split():
        run = run + 1 if _SHOUT_TOKEN_RE.match(token) else 0
        if run >= SHOUT_RUN:
            return True
    return False


def rule_urgency(text: str, info: bool) -> str:
    """The documented urgency rules; the generator's labels must always agree with this."""
    if HIGH_CUE_RE.search(text) or has_shouting(text):
        return "HIGH"
    if LOW_CUE_RE.search(text) or info:
        return "LOW"
    return "MEDIUM"


_END_PUNCT_RE = re.compile(r"([.!?]*)$")


def _attach_tail(sentence: str, tail: str) -> str:
    """Put a trailing fragment before the sentence's final punctuation ("..., no rush?")."""
    match = _END_PUNCT_RE.search(sentence)
    punct = match.group(1) if match else ""
    return sentence[: len(sentence) - len(punct)] + tail + punct


_MISSPELL = {
    "received": "recieved", "receive": "recieve", "address": "adress", "package": "pakage",
    "cancel": "cancle",
    "because": "becuase", "please": "pls", "thanks": "thx", "really": "realy", "tomorrow": "tommorow",
    "until": "untill", "order": "oder", "delivery": "delivary", "definitely": "definately", "money": "mony",
    "would": "woud", "account": "acount", "refund": "refnd", "return": "retrun",
}
_NEIGHBOURS = {"a": "s", "e": "r", "i": "o", "o": "p", "n": "m", "r": "t", "t": "y", "s": "d", "l": "k",
               "d": "f"}
_WORD_RE = re.compile(r"[A-Za-z']{4,}")


def _match_case(src: str, new: str) -> str:
    if src.isupper():
        return new.upper()
    if src[:1].isupper():
        return new[:1].upper() + new[1:]
    return new


def _typo(word: str, rng: random.Random) -> str:
    lower = word.lower()
    if lower in _MISSPELL and rng.random() < 0.5:
        return _match_case(word, _MISSPELL[lower])
    i = rng.randrange(1, len(word) - 1)
    op = rng.choice(("drop", "swap", "double", "near"))
    if op == "drop":
        return word[:i] + word[i + 1:]
    if op == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if op == "double":
        return word[:i] + word[i] + word[i:]
    repl = _NEIGHBOURS.get(word[i].lower(), word[i])
    return word[:i] + (repl.upper() if word[i].isupper() else repl) + word[i + 1:]


def _add_noise(text: str, rng: random.Random) -> str:
    """Typos and sloppy punctuation, never inside urgency cues (they must stay detectable)."""
    protected = [m.span() for m in HIGH_CUE_RE.finditer(text)] + [m.span() for m in LOW_CUE_RE.finditer(text)]
    words = [m for m in _WORD_RE.finditer(text)
             if not any(s < m.end() and m.start() < e for s, e in protected)]
    chosen = sorted(rng.sample(words, min(len(words), rng.randint(1, 3))), key=lambda m: m.start())
    out, pos = [], 0
    for m in chosen:
        out.append(text[pos:m.start()])
        out.append(_typo(m.group(), rng))
        pos = m.end()
    out.append(text[pos:])
    text = "".join(out)
    if rng.random() < 0.4:
        text = re.sub(r"(?<=\w)\.(?=\s|$)", "", text)
    if rng.random() < 0.4:
        text = text.replace("'", "")
    if rng.random() < 0.3:
        text = text.replace(",", "")
    return text


def _stands_alone(text: str, order_id: str) -> bool:
    """Every occurrence of the id is a whole token, so no distractor number contains it."""
    start = text.find(order_id)
    while start != -1:
        end = start + len(order_id)
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        if before.isalnum() or before == "-" or after.isalnum() or after == "-":
            return False
        start = text.find(order_id, end)
    return True


def _make_example(rng: random.Random, template_id: str) -> Example | None:
    """Build one message; None when a rare slot collision makes the order id ambiguous (caller retries)."""
    intent, raw, info, angry, asks = _TABLE[template_id]
    harm = HIGH_CUE_RE.search(raw) is not None
    if harm:
        urgency = "HIGH"
    elif info:
        urgency = "HIGH" if asks and rng.random() < 0.12 else "LOW"
    elif angry:
        urgency = "HIGH" if rng.random() < 0.45 else "MEDIUM"
    else:
        weights = _URGENCY_WEIGHTS.get(intent, (0.3, 0.25, 0.45))
        urgency = rng.choices(("HIGH", "LOW", "MEDIUM"), weights=weights)[0]
    shout = urgency == "HIGH" and not info and rng.random() < 0.25
    lowercase = not shout and rng.random() < 0.15
    noisy = rng.random() < 0.3

    has_slot = "{order}" in raw
    # Information-only phrasings are general questions, so they only mention an order when the template does.
    id_rate = 0.0 if info else _ID_RATE[intent]
    id_rate = id_rate or (_SLOT_ONLY_ID_RATE if has_slot else 0.0)
    order_id: str | None = None
    ref = ""
    if rng.random() < id_rate:
        fmt = rng.choice(list(ORDER_ID_FORMATS))
        maker, has_letters = ORDER_ID_FORMATS[fmt]
        order_id = maker(rng)
        if has_letters and rng.random() < (0.7 if lowercase else 0.08):
            order_id = order_id.lower()
        hashed = rng.random() < (0.85 if fmt == "hash_numeric" else 0.12)
        ref = ("#" if hashed else "") + order_id
    inline = order_id is not None and has_slot and rng.random() < 0.7
    if inline:
        phrase = rng.choice(_ORDER_INLINE)
        order_phrase = phrase.format(ref=_ID_MARK, ref_nohash=_ID_MARK)
        if "{ref_nohash}" in phrase:
            ref = order_id  # the phrase itself supplies the '#'
    else:
        order_phrase = rng.choice(_ORDER_GENERIC)
    slots = _Slots(rng, {"order": order_phrase})
    filled = raw.format_map(slots)
    if raw.startswith("{"):
        filled = filled[:1].upper() + filled[1:]
    core = _SENTENCE_SPLIT_RE.split(filled)
    if shout:
        core = [s.upper() for s in core]
        if rng.random() < 0.5:
            core[-1] = _END_PUNCT_RE.sub("!!!", core[-1], count=1)
    sentences = list(core)

    def fill(pool: list[str]) -> str:
        return rng.choice(pool).format_map(slots)

    def insert(sentence: str, where: str | None = None) -> None:
        where = where or rng.choice(("start", "middle", "end", "end"))
        idx = {"start": 0, "end": len(sentences)}.get(where, rng.randint(0, len(sentences)))
        sentences.insert(idx, sentence)

    if intent != "OTHER" and rng.random() < 0.25:
        kinds = ["context"]
        if intent != "COMPLAINT":
            kinds.append("praise")
        if not info:
            kinds.append("vent")
        if intent != "PRODUCT_INFO":
            kinds.append("aside")
        kind = rng.choice(kinds)
        if kind == "context":
            insert(fill(_CONTEXT_ANY + (_CONTEXT_ORDER if intent in _ORDER_INTENTS else [])), "start")
        elif kind == "aside":
            insert(fill(_ASIDES), "end")
        else:
            insert(fill(_PRAISE if kind == "praise" else _VENT))
    if rng.random() < 0.35:
        pool = _DISTRACTORS_ANY + (_DISTRACTORS_ORDER if intent in _ORDER_INTENTS else [])
        pool = pool + (_DISTRACTORS_SHIP if intent in _SHIP_INTENTS else [])
        insert(fill(pool))

    subject: str | None = None
    if rng.random() < 0.12:
        subject = rng.choice(_SUBJECTS_GENERIC + _SUBJECTS[intent] * 2)
    add_high = urgency == "HIGH" and (not (harm or shout) or rng.random() < 0.2)
    requests = _request_sentences(core)
    if add_high:
        where = rng.choice(("sentence", "sentence", "prefix", "tail", "subject" if subject else "sentence"))
        where = "sentence" if where == "tail" and (info or not requests) else where
        if where == "sentence":
            pool = _HIGH_SENTENCES + (_HIGH_MONEY_SENTENCES if intent in _MONEY_INTENTS and not info else [])
            insert(rng.choice(pool))
        elif where == "prefix":
            sentences[0] = rng.choice(_HIGH_PREFIXES) + " " + sentences[0]
        elif where == "tail":
            i = rng.choice(requests)
            sentences[sentences.index(core[i])] = _attach_tail(core[i], rng.choice(_HIGH_TAILS))
        else:
            subject = rng.choice(("URGENT", "Urgent:")) + ("" if rng.random() < 0.5 else " " + subject)
    if urgency == "LOW" and (not info or (asks and rng.random() < 0.4)):
        if rng.random() < 0.7 or not requests:
            insert(rng.choice(_LOW_SENTENCES))
        else:
            i = rng.choice(requests)
            sentences[sentences.index(core[i])] = _attach_tail(core[i], rng.choice(_LOW_TAILS))
    if order_id is not None and not inline:
        where = rng.choice(("sentence", "sentence", "tail", "subject" if subject is None else "sentence"))
        if where == "subject":
            subject = rng.choice(("Order ", "Re: order ", "Order no. ")) + _ID_MARK
        elif where == "tail":
            i = rng.randrange(len(sentences))
            sentences[i] = _attach_tail(sentences[i], rng.choice(_ID_TAILS).format(ref=_ID_MARK))
        else:
            insert(rng.choice(_ID_SENTENCES).format(ref=_ID_MARK))
    if rng.random() < 0.12:
        angry_ok = urgency != "LOW" and not info
        angry_ok = angry_ok and (angry or rng.random() < 0.5)
        emoji = rng.choice(_EMOJI_NEUTRAL + (_EMOJI_ANGRY if angry_ok else []))
        i = rng.randrange(len(sentences))
        sentences[i] = sentences[i] + " " + emoji

    text = " ".join(sentences)
    if rng.random() < 0.3:
        text = rng.choice(_GREETINGS) + rng.choice((" ", "\n")) + text
    if rng.random() < 0.3:
        text = text + rng.choice(("\n", " ", "\n\n")) + fill(_SIGNOFFS)
    if subject is not None:
        text = f"Subject: {subject}\n{text}"
    if shout and not has_shouting(text):
        text = text + " " + rng.choice(_HIGH_SENTENCES)
    if noisy:
        text = _add_noise(text, rng)
    if lowercase:
        text = text.lower()
    text = text.replace(_ID_MARK, ref)

    if order_id is not None and not _stands_alone(text, order_id):
        return None
    output = canonical({"intent": intent, "urgency": urgency, "order_id": order_id}, SCHEMA)
    if not is_valid(output, SCHEMA):
        errors = schema_errors(output, SCHEMA)
        raise RuntimeError(f"{template_id}: generated an invalid label {output}: {errors}")
    if rule_urgency(text, info) != urgency:
        raise RuntimeError(f"{template_id}: urgency {urgency} disagrees with the cue rules for {text!r}")
    return Example(text=text, output=output, template=template_id)


def generate(n: int, seed: int, template_ids: Collection[str] | None = None) -> list[Example]:
    """``n`` labelled messages, deterministic in (n, seed, template_ids), intents balanced.

    Intents are dealt in shuffled rounds (each intent once per round), so even a small split holds every
    intent about equally often instead of by chance. ``template_ids`` restricts the core phrasings (for
    template-disjoint splits); intents with no allowed template are skipped, so balance holds across the
    intents that remain.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    allowed = None if template_ids is None else set(template_ids)
    if allowed is not None and (unknown := sorted(allowed - set(_TABLE))):
        raise ValueError(f"unknown template ids: {unknown[:5]}")
    pools = {intent: [t for t in ids if allowed is None or t in allowed]
             for intent, ids in _ids_by_intent(_TABLE).items()}
    intents = [intent for intent in INTENTS if pools[intent]]
    if n and not intents:
        raise ValueError("template_ids selects no templates")
    rng = random.Random(seed)
    examples: list[Example] = []
    due: list[str] = []  # intents still to be dealt in this round
    while len(examples) < n:
        if not due:
            due = rng.sample(intents, len(intents))
        example = _make_example(rng, rng.choice(pools[due[-1]]))
        if example is not None:  # None is a rare slot collision: redraw for the same intent
            examples.append(example)
            due.pop()
    return examples
