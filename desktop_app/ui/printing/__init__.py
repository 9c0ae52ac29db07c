"""Paper and PDF: the order confirmation and the packing slip (Qt's text document and PDF
writer, and the print preview dialog)."""
