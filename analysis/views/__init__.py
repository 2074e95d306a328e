"""The book's glue: tables, text and values for the chapters, made from the review object; and the record of what each chapter read."""
